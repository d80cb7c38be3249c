import { useCallback, useLayoutEffect, useRef } from "react";

// useLayoutEffect warns in server rendering; the ref is read only by event handlers, which run after hydration.
const useClientLayoutEffect = typeof document === "undefined" ? () => undefined : useLayoutEffect;

/**
 * A function whose identity never changes and which calls the latest `callback`: a handler for a memoised child,
 * which a new function on every render of the parent would re-render.
 */
export function useStableCallback<A extends unknown[], R>(callback: (...args: A) => R): (...args: A) => R {
  const latest = useRef(callback);
  useClientLayoutEffect(() => {
    latest.current = callback;
  });
  return useCallback((...args: A) => latest.current(...args), []);
}
