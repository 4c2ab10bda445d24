export { createManagementRouter } from './router';
export { ManagementError, type ManagementErrorCode } from './errors';
export { MemoryLockoutStore, type MemoryLockoutStoreOptions } from './http/lockout';
export { BUILTIN_RESOURCES } from './table';
export { fileStorage, type FileStorageOptions } from './engines/file';
export { StoreError, type StoreErrorCode } from './engines/errors';
export {
  tokenFileName,
  type TokenFile,
  type TokenFileInfo,
  type TokenStore,
} from './engines/tokens';
export { COMMIT_CHANNEL, type CommitMessage } from './config/store';
export type {
  ConfigBackend,
  OpenedStorage,
  SaveResult,
  Storage,
  StorageContext,
  StoredText,
  TextEvents,
  TextOutcome,
  TextRefusal,
  TextVersion,
} from './engines/spi';
export { createTempConfig, type TempConfig } from './testing';
export { openApiDocument, type OpenApiDocument, type OpenApiOptions } from './openapi';
export { HookError } from './runtime/hook-call';
export { fileLogs, type FileLogs, type FileLogsOptions } from './runtime/file-logs';
export {
  usageRecorder,
  type UsageRecord,
  type UsageRecorder,
  type UsageRecorderOptions,
} from './runtime/usage-recorder';
export type {
  ApiCallCredential,
  ApiKeyUsage,
  AuthFileState,
  ErrorLogFile,
  HookContext,
  HostRoute,
  LogBody,
  LogDownload,
  LogPage,
  LogQuery,
  ManagementRuntime,
  MaybePromise,
  ModelInfo,
  OutboundRequest,
  RecentRequestBucket,
  UsageEntry,
} from './runtime/types';
export type { HistoryEntry } from './history/entry';
export type {
  ConfigChange,
  ConfigListener,
  FilesDescriptor,
  JsonSchema,
  KeyPath,
  LockoutRecord,
  LockoutStore,
  Logger,
  ManagementHandle,
  ManagementOptions,
  ManagementRouter,
  MapDescriptor,
  ObjectArrayDescriptor,
  ProxyConfig,
  ResourceDescriptor,
  ScalarDescriptor,
  ServerInfo,
  StringArrayDescriptor,
} from './types';
export { MemoryOAuthSessionStore, type MemoryOAuthSessionStoreOptions } from './oauth/sessions';
export type {
  AuthFileListener,
  AuthFileSource,
  OAuthContext,
  OAuthOptions,
  OAuthProvider,
  OAuthSession,
  OAuthSessionStatus,
  OAuthSessionStore,
  OAuthTokens,
} from './oauth/types';
