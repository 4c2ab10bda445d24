import type { Document } from 'yaml';
import { HttpError, notFoundItem } from '../http/errors';
import type { ConfigStore } from '../config/store';
import { listAt } from '../yaml/edit';

/**
 * The DELETE of both list kinds: `?index=` removes that item (`404 item not found` out of
 * range); otherwise `selector` (the `?value=` or `?<match>=` parameter, `undefined` when absent
 * or empty) removes every item `matches` accepts (none is still a success); neither is a 400
 * with `missing` as its message.
 */
export async function deleteItems(
  store: ConfigStore,
  path: readonly string[],
  index: number | undefined,
  selector: string | undefined,
  matches: (doc: Document, item: unknown, selector: string) => boolean,
  missing: string,
): Promise<void> {
  if (index !== undefined) {
    await store.mutate((doc) => {
      const seq = listAt(doc, path);
      if (!seq || index >= seq.items.length) throw notFoundItem();
      seq.items.splice(index, 1);
    });
  } else if (selector) {
    await store.mutate((doc) => {
      const seq = listAt(doc, path);
      if (!seq) return;
      // From the end, so the indexes still to visit stay valid.
      for (let i = seq.items.length - 1; i >= 0; i--)
        if (matches(doc, seq.items[i], selector)) seq.items.splice(i, 1);
    });
  } else {
    throw new HttpError(400, missing);
  }
}
