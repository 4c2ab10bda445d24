import { BlockList, isIP } from 'node:net';
import { ManagementError } from '../errors';

/**
 * The `localAddresses` option compiled: loopback plus the host's extra addresses and CIDR
 * ranges, as one `BlockList`. A bad entry throws `ERR_INVALID_OPTION` at construction, before
 * any store is opened.
 */
export function buildLocalList(extra: readonly string[]): BlockList {
  const list = new BlockList();
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addAddress('::1', 'ipv6');
  for (const entry of extra) {
    const [addr = '', bits] = entry.split('/');
    const family = isIP(addr);
    const prefix = bits === undefined ? undefined : Number(bits);
    const max = family === 4 ? 32 : 128;
    if (family === 0 || (prefix !== undefined && (!/^\d+$/.test(bits ?? '') || prefix > max))) {
      throw new ManagementError(
        'ERR_INVALID_OPTION',
        `localAddresses: not an IP address or CIDR range: ${entry}`,
      );
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, prefix, type);
  }
  return list;
}
