// The merchant certificate as the owner picks it in a form (settings, the guided setup), read
// into what the desk takes: the .p12 as base64 with its password, or the PEM pair as text.
import type { CertificateInput } from "./ipc";

export interface PickedFiles {
  p12: File | null;
  cert: File | null;
  key: File | null;
}

/** The file chosen in a file input's change event. */
export function pickedFile(event: Event): File | null {
  return (event.target as HTMLInputElement).files?.[0] ?? null;
}

async function base64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

/** The certificate of `kind` from the picked files; null when one it needs was not picked. */
export async function certificateInput(kind: "p12" | "pem", files: PickedFiles, password: string): Promise<CertificateInput | null> {
  if (kind === "p12") {
    return files.p12 ? { kind: "p12", p12_base64: await base64(files.p12), password: password || null } : null;
  }
  if (!files.cert || !files.key) return null;
  return { kind: "pem", cert_pem: await files.cert.text(), key_pem: await files.key.text() };
}
