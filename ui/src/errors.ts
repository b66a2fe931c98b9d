import { DeskError } from "./ipc";
import { i18n } from "./i18n";

/** A translated headline for the error's code, with the desk's own explanation after it. */
export function describe(error: unknown): string {
  const t = i18n.global.t;
  if (error instanceof DeskError) {
    const headline = t(`errors.${error.code}`);
    const colon = i18n.global.locale.value === "en" ? ": " : "："; 
    return error.message ? `${headline}${colon}${error.message}` : headline;
  }
  return `${t("errors.unexpected")}: ${String(error)}`;
}
