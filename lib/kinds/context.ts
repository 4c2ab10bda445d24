import type { RequestHandler } from 'express';
import type { ConfigStore } from '../config/store';
import type { TokenStore } from '../engines/tokens';
import type { AuthFileStateMerge } from '../runtime';
import type { AuthFileSource } from '../oauth/types';
import type { Logger } from '../types';

/** What every kind's route builder gets besides its resolved row. */
export interface ResourceContext {
  /** The config: reads from its snapshot, writes as mutations. */
  readonly store: ConfigStore;
  /** JSON body parser with the router's size limit and the forbidden-key and depth checks. */
  readonly json: RequestHandler;
  /** The token files (`files` rows). */
  readonly tokens: TokenStore;
  /** Largest uploaded token file, bytes. */
  readonly uploadLimit: number;
  /** Largest request body (the raw-text upload of `PUT /config.yaml` too). */
  readonly bodyLimit: number | string;
  /** Most `file` parts of one multipart upload. */
  readonly uploadMaxFiles: number;
  /** Where warnings go (a config value of the wrong type, once). */
  readonly logger: Logger;
  /** The host runtime's state of each listed token file (`runtime.authFileState`), when given. */
  readonly authFileState?: AuthFileStateMerge;
  /** Tell the host a token file was written (`onAuthFile`; its throw is logged, never answered). */
  readonly authFileWritten?: (name: string, source: AuthFileSource) => void;
}
