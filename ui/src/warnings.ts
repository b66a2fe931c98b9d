// What the owner should know about how the desk started, worded in the window's language. The
// desk sends a code with its facts (bindings.ts `StartWarning`); the words live in the i18n files.
import { i18n } from "./i18n";
import type { StartWarning } from "./ipc";

export function startWarningText(warning: StartWarning): string {
  const t = i18n.global.t;
  switch (warning.code) {
    case "made_private":
      return t("startWarnings.made_private", { path: warning.path, mode: warning.mode.toString(8) });
    case "not_ours":
      return t("startWarnings.not_ours", { path: warning.path });
    case "sandbox_ignores_relay":
      return t("startWarnings.sandbox_ignores_relay");
    case "intake_reachable":
      return t("startWarnings.intake_reachable", { listen: warning.listen });
    case "key_in_file":
      return t("startWarnings.key_in_file", { path: warning.path });
  }
}
