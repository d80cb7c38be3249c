/** The names the operating system has for this process's live threads (Linux: /proc/self/task/<tid>/comm). */
import { readdirSync, readFileSync } from "node:fs";

export function threadNamesOfThisProcess(): string[] {
  const names: string[] = [];
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      names.push(readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim());
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return names;
}
