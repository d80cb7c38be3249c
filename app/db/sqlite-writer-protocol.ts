/** Messages between the SQLite writer and its thread (decision 021). */
import type { CheckpointResult, CheckpointsMode } from "./sqlite-checkpoints";
import type { GroupItem, ItemOutcome } from "./sqlite-write-kinds";

export interface WriterThreadData {
  file: string;
  testHooks: boolean;
  /** Where the WAL's checkpoints run (decision 032). */
  checkpoints: CheckpointsMode;
  /** The WAL's size, in pages, past which the writer catches up after a checkpoint (CATCH_UP_PAGES; tests lower it). */
  catchUpPages: number;
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

export type WriterReply =
  | { type: "ready" }
  | { type: "done"; id: number; outcomes: Array<ItemOutcome<PlainError>> }
  /** A checkpoint the checkpointer thread ran (decision 032). */
  | { type: "checkpoint"; result: CheckpointResult }
  /** The writer's own checkpoint right after one of the checkpointer's, so that the WAL starts over (decision 042). */
  | { type: "catch-up"; result: CheckpointResult }
  /** The checkpointer thread is gone; the writer checkpoints for itself again, by SQLite's own rule. */
  | { type: "checkpointer-ended"; reason: string };
