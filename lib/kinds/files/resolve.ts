import type { FilesDescriptor } from '../../types';
import type { ResolvedFiles } from '../../settings/resolved';

/** A `files` row: the folder is the router's `authDir`; nothing to check beyond the path. */
export function resolveFiles(d: FilesDescriptor): ResolvedFiles {
  return {
    kind: 'files',
    path: d.path,
    description: d.description ?? '',
    descriptor: d,
    field: 'files',
  };
}
