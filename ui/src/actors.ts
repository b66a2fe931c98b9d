import { i18n } from "./i18n";

/** Who decided, as people read it: the window's own two approvers are named in the language shown. */
export function actorName(actor: string): string {
  const t = i18n.global.t;
  if (actor === "owner") return t("audit.owner");
  if (actor === "staff") return t("audit.staff");
  return actor;
}
