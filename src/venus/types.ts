/**
 * Boundary types shared by the pipeline stages: the mapping produces a frame of typed path
 * values, the D-Bus service publishes them. Nothing here depends on a library.
 */

/** D-Bus basic type letters a Victron BusItem path may carry. Fixed per path, never inferred. */
export type DbusType = 'd' | 'i' | 'u' | 'x' | 't' | 'n' | 'q' | 'y' | 'b' | 's';

export const DBUS_TYPES: readonly DbusType[] = ['d', 'i', 'u', 'x', 't', 'n', 'q', 'y', 'b', 's'];

/** A value on a path: a number or string of the path's type, or null for invalid. */
export type PathValue = number | string | null;

/** What a path shows: its value and the text GetText returns (`---` when invalid). */
export interface ItemState {
  value: PathValue;
  text: string;
}

/** One mapping evaluation: the new state of every path the mapping owns. */
export type Frame = Map<string, ItemState>;

/** The text shown for an invalid value, as in velib's GetText. */
export const INVALID_TEXT = '---';
