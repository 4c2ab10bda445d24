export { createManagementRouter } from './router';
export { ManagementError, type ManagementErrorCode } from './errors';
export { MemoryLockoutStore, type MemoryLockoutStoreOptions } from './http/lockout';
export { BUILTIN_RESOURCES } from './resources/table';
export { fileStorage, type FileStorageOptions } from './store/file';
export { StoreError, type StoreErrorCode } from './store/errors';
export { tokenFileName, type TokenFile, type TokenFileInfo, type TokenStore } from './store/token-store';
export { COMMIT_CHANNEL, type CommitMessage, type ConfigStore, type Mutation, type TextMutation } from './store/config-store';
export type { OpenedStorage, Storage, StorageContext } from './store/storage';
export { createTempConfig, type TempConfig } from './testing';
export { openApiDocument, type OpenApiDocument, type OpenApiOptions } from './openapi';
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
  MaybePromise,
  OAuthContext,
  OAuthOptions,
  OAuthProvider,
  OAuthSession,
  OAuthSessionStatus,
  OAuthSessionStore,
  OAuthTokens,
} from './oauth/types';
