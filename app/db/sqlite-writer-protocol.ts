/** Messages between the SQLite writer and its thread (decision 021). */
import type { GroupItem, ItemOutcome } from "./sqlite-write-kinds";

export interface WriterThreadData {
  file: string;
  testHooks: boolean;
}

export interface WriterRequest {
  id: number;
  group: GroupItem[];
}

export interface PlainError {
  name: string;
  message: string;
  code?: string;
}

export type WriterReply = { type: "ready" } | { type: "done"; id: number; outcomes: Array<ItemOutcome<PlainError>> };
