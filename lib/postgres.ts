/**
 * `cli-proxy-management/postgres`: the PostgreSQL storage engine. A
 * separate entry point so that `require('cli-proxy-management')` never loads `pg`.
 *
 * @packageDocumentation
 */
export { postgresStorage, type PostgresStorageOptions } from './engines/postgres';
