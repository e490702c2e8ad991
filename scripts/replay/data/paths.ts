/**
 * Joining and clipping price paths without hiding anything: a stretch with no observation is
 * never filled by a made-up price, only held, and every hold is listed in `gaps`.
 */
import type { PathGap, PricePath } from "../types.js";
import { PathJoinError } from "./errors.js";
import { isoUtc } from "./loaders.js";

/** A path and the last second its source observes (for bars: the last bar's close time). */
export type PathPart = { path: PricePath; end: number };

/**
 * Concatenates segments of one market's path in time order. Where a segment ends before the next
 * begins, the last price is held and the hold is recorded as a gap with the reason given.
 */
export function joinPaths(parts: readonly PathPart[], reason: (from: number, to: number) => string): PathPart {
  if (parts.length === 0) throw new PathJoinError("no segments");
  const [first, ...rest] = parts;
  const points = [...first.path.points];
  const gaps: PathGap[] = [...(first.path.gaps ?? [])];
  const sources = [first.path.source];
  let end = first.end;
  for (const { path, end: partEnd } of rest) {
    for (const key of ["event", "symbol", "quote", "resolution", "sampling"] as const) {
      if (path[key] !== first.path[key]) {
        throw new PathJoinError(
          `${key} ${String(path[key])} of ${path.source} differs from ${String(first.path[key])}`,
        );
      }
    }
    const start = path.points[0].t;
    if (start < end) {
      throw new PathJoinError(
        `${path.source} starts at ${isoUtc(start)}, before the previous segment ends (${isoUtc(end)})`,
      );
    }
    if (start > end) gaps.push({ from: end, to: start, reason: reason(end, start) });
    points.push(...path.points);
    gaps.push(...(path.gaps ?? []));
    sources.push(path.source);
    end = partEnd;
  }
  return { path: { ...first.path, source: sources.join(" + "), points, gaps }, end };
}

/**
 * The part of a path inside [start, end]. The price in force at `start` (the last point before
 * it) is carried to `start`, as an oracle round stays in force until the next. If the source stops
 * observing before `end`, the remainder is recorded as a gap. A path that only begins after
 * `start` is left to begin late: nothing is invented before its first observation.
 */
export function clipPath(part: PathPart, start: number, end: number): PricePath {
  const { path } = part;
  const before = path.points.filter((point) => point.t < start);
  const inside = path.points.filter((point) => point.t >= start && point.t <= end);
  const carried =
    before.length > 0 && inside[0]?.t !== start ? [{ t: start, priceWad: before[before.length - 1].priceWad }] : [];
  const gaps = (path.gaps ?? [])
    .map((gap) => ({ ...gap, from: Math.max(gap.from, start), to: Math.min(gap.to, end) }))
    .filter((gap) => gap.to > gap.from);
  if (part.end < end) {
    const from = Math.max(part.end, start);
    gaps.push({
      from,
      to: end,
      reason: `${path.source} ends at ${isoUtc(part.end)}; its last price is held to the end of the event window (${isoUtc(end)})`,
    });
  }
  return { ...path, points: [...carried, ...inside], gaps };
}
