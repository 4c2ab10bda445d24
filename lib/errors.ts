/** Codes of {@link ManagementError}, thrown at construction for a fatal misconfiguration. */
export type ManagementErrorCode =
  | 'ERR_CONFIG_NOT_FOUND'
  | 'ERR_CONFIG_UNREADABLE'
  | 'ERR_CONFIG_INVALID'
  | 'ERR_INVALID_OPTION'
  | 'ERR_STORAGE_UNAVAILABLE'
  | 'ERR_INVALID_DESCRIPTOR';

/** Thrown by `createManagementRouter` when it cannot work, instead of failing at the first request. */
export class ManagementError extends Error {
  constructor(
    readonly code: ManagementErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'ManagementError';
  }
}
