export { createManagementRouter } from './router';
export { ManagementError, type ManagementErrorCode } from './http/errors';
export { MemoryLockoutStore, type MemoryLockoutStoreOptions } from './http/lockout';
export { BUILTIN_RESOURCES } from './resources/table';
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
  ObjectArrayDescriptor,
  ProxyConfig,
  ResourceDescriptor,
  ScalarDescriptor,
  StringArrayDescriptor,
} from './types';
