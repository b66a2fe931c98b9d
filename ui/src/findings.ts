// What a doctor check found, worded with its fix in the window's language. The desk sends a code
// with its facts (bindings.ts `Finding`); the words live in the i18n files.
import { i18n } from "./i18n";
import type { Finding, Problem } from "./ipc";

/** The problems the doctor's questions to WeChat meet, each worded as a setup fix. */
const PROBE_PROBLEMS: Problem[] = [
  "api_key_wrong",
  "merchant_wrong",
  "certificate_rejected",
  "certificate_missing",
  "unreachable",
  "rate_limited",
  "server_not_trusted",
  "clock_wrong",
  "server_name_mismatch",
  "secure_connection_failed",
  "http_refused",
];

function probeProblem(problem: Problem): string {
  const t = i18n.global.t;
  return PROBE_PROBLEMS.includes(problem) ? t(`probeProblems.${problem}`) : t("probeProblems.other");
}

export function findingText(finding: Finding): string {
  const t = i18n.global.t;
  switch (finding.code) {
    case "certificate_unusable":
      return `${t(`certificateProblems.${finding.problem}`)}`;
    case "wechat_refused":
      return t("findings.wechat_refused", { problem: probeProblem(finding.problem), wechat: finding.wechat });
    case "alarm_up":
      return `${t(`alarms.${finding.cause}.title`)}：${t(`alarms.${finding.cause}.fix`, { count: finding.count })}`;
    case "refused_last_day":
      return finding.refused.length === 0
        ? t("findings.refused_nothing")
        : t("findings.refused_last_day", {
            list: finding.refused.map((r) => `${t(`doors.${r.door}`)} ${t(`refusals.${r.cause}`)} ${r.count}`).join(", "),
          });
    case "unreachable":
      return t("findings.unreachable", { problem: t(`reachProblems.${finding.problem}`), detail: finding.detail });
    default: {
      const { code, ...facts } = finding;
      return t(`findings.${code}`, facts as Record<string, unknown>);
    }
  }
}
