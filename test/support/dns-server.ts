import { createSocket, RemoteInfo, Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

/** One record of the test zone. */
export type ZoneRecord =
  | { readonly type: 'A' | 'AAAA' | 'CNAME'; readonly value: string }
  | { readonly type: 'TXT'; readonly value: string | string[] }
  | { readonly type: 'MX'; readonly value: string; readonly priority: number };

const TYPES: Record<string, number> = { A: 1, CNAME: 5, MX: 15, TXT: 16, AAAA: 28 };

/**
 * A small authoritative-and-recursive DNS server on UDP loopback for tests: answers A, AAAA,
 * CNAME, MX and TXT from an in-memory zone, following CNAMEs in the answer as a recursive
 * resolver does. Names not in the zone get NXDOMAIN; names without the type, NODATA.
 */
export class TestDnsServer {
  /** Starts a server on 127.0.0.1 and a random port. */
  public static async start(): Promise<TestDnsServer> {
    const socket = createSocket('udp4');
    await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve));
    return new TestDnsServer(socket);
  }

  /** The zone: lower-case names, no trailing dot. Replace or edit it between tests. */
  public zone = new Map<string, ZoneRecord[]>();
  /** Follow CNAMEs in answers, as a recursive resolver does; false answers with the CNAME alone. */
  public chaseCnames = true;
  /** Names whose queries are never answered. */
  public readonly silent = new Set<string>();

  private constructor(private readonly socket: Socket) {
    socket.on('message', (msg, rinfo) => this.answer(msg, rinfo));
  }

  /** `127.0.0.1:<port>`, for `--resolver`. */
  public get address(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }

  /** Adds records to a name. */
  public add(name: string, ...records: ZoneRecord[]): void {
    const key = name.toLowerCase();
    this.zone.set(key, [...(this.zone.get(key) ?? []), ...records]);
  }

  public close(): Promise<void> {
    return new Promise(resolve => this.socket.close(() => resolve()));
  }

  private answer(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < 12) {
      return;
    }
    let offset = 12;
    const labels: string[] = [];
    while (msg[offset] !== 0) {
      const len = msg[offset];
      labels.push(msg.subarray(offset + 1, offset + 1 + len).toString('latin1'));
      offset += len + 1;
    }
    offset += 1;
    const qtype = msg.readUInt16BE(offset);
    const question = msg.subarray(12, offset + 4);
    const qname = labels.join('.').toLowerCase();
    if (this.silent.has(qname)) {
      return;
    }

    const answers: Buffer[] = [];
    let name = qname;
    let exists = this.zone.has(name);
    for (let hops = 0; hops < 10; hops++) {
      const records = this.zone.get(name) ?? [];
      const matching = records.filter(r => TYPES[r.type] === qtype);
      if (matching.length > 0) {
        answers.push(...matching.map(r => encodeRecord(name, r)));
        break;
      }
      const cname = records.find(r => r.type === 'CNAME');
      if (!cname) {
        break;
      }
      answers.push(encodeRecord(name, cname));
      if (!this.chaseCnames) {
        break;
      }
      name = (cname.value as string).toLowerCase().replace(/\.$/, '');
      exists = this.zone.has(name);
    }
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    const rcode = answers.length === 0 && !exists ? 3 : 0;
    header.writeUInt16BE(0x8580 + rcode, 2); // QR, AA, RD, RA, then the rcode
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    this.socket.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
  }
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(l => l.length > 0).map(label => {
    const bytes = Buffer.from(label, 'latin1');
    return Buffer.concat([Buffer.from([bytes.length]), bytes]);
  });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function encodeRecord(name: string, record: ZoneRecord): Buffer {
  let rdata: Buffer;
  switch (record.type) {
    case 'A':
      if (!isIPv4(record.value)) {
        throw new Error(`not IPv4: ${record.value}`);
      }
      rdata = Buffer.from(record.value.split('.').map(Number));
      break;
    case 'AAAA': {
      if (!isIPv6(record.value)) {
        throw new Error(`not IPv6: ${record.value}`);
      }
      const [head, tail] = record.value.split('::');
      const h = head ? head.split(':') : [];
      const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
      const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
      rdata = Buffer.alloc(16);
      groups.forEach((g, i) => rdata.writeUInt16BE(parseInt(g, 16), i * 2));
      break;
    }
    case 'CNAME':
      rdata = encodeName(record.value);
      break;
    case 'MX': {
      const pref = Buffer.alloc(2);
      pref.writeUInt16BE(record.priority);
      rdata = Buffer.concat([pref, encodeName(record.value)]);
      break;
    }
    case 'TXT': {
      const strings = Array.isArray(record.value) ? record.value : [record.value];
      rdata = Buffer.concat(strings.map(s => {
        const bytes = Buffer.from(s, 'utf8');
        if (bytes.length > 255) {
          throw new Error('TXT strings are at most 255 bytes: split the value');
        }
        return Buffer.concat([Buffer.from([bytes.length]), bytes]);
      }));
      break;
    }
  }
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPES[record.type], 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(60, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([encodeName(name), fixed, rdata]);
}
