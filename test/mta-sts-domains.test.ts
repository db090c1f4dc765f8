import * as vm from 'node:vm';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { parsePolicy } from 'mailauth/lib/mta-sts';
import { flatten, publishedPolicies } from '../example/inspect';
import { MtaStsDomainOptions, MtaStsDomains, MtaStsDomainsProps, MtaStsMode, MtaStsPolicy } from '../src';
import { groupDomains } from '../src/private/grouping';

const ACCOUNT = '111111111111';
const MODES = [MtaStsMode.TESTING, MtaStsMode.ENFORCE, MtaStsMode.NONE];

interface Built {
  readonly app: App;
  readonly stack: Stack;
  readonly domains: MtaStsDomains;
  readonly template: Template;
}

function zone(stack: Stack, name: string): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(stack, `Zone-${name}`, { hostedZoneId: `Z${name.replace(/\W/g, '').toUpperCase()}`, zoneName: name });
}

/** `count` domains brandN.example, each in its own zone, cycling through three modes. */
function build(names: string[], extra: Partial<MtaStsDomainsProps> = {}, region = 'us-east-1'): Built {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region }, crossRegionReferences: region !== 'us-east-1' });
  const domains = new MtaStsDomains(stack, 'MtaSts', {
    mx: ['*.mail.example.net'],
    tlsRpt: { rua: ['mailto:tls@example.net'] },
    domains: names.map((name): MtaStsDomainOptions => ({ hostedZone: zone(stack, name), mode: modeOf(name) })),
    ...extra,
  });
  return { app, stack, domains, template: Template.fromStack(stack) };
}

/** A mode that depends on the name only, so adding or removing a domain changes no other policy. */
function modeOf(name: string): MtaStsMode {
  return MODES[Number(/\d+/.exec(name)?.[0] ?? 0) % 3];
}

function brands(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `brand${from + i}.example`);
}

/** Runs a distribution's routing function, as CloudFront would, for one request. */
function route(stack: Stack, template: Template, distributionLogicalId: string, host: string, uri: string): any {
  const distribution = template.toJSON().Resources[distributionLogicalId];
  const association = distribution.Properties.DistributionConfig.DefaultCacheBehavior.FunctionAssociations[0];
  const functionId = association.FunctionARN['Fn::GetAtt'][0];
  const code = template.toJSON().Resources[functionId].Properties.FunctionCode;
  const sandbox: any = {};
  vm.runInNewContext(`${code}\nresult = handler(event);`, Object.assign(sandbox, {
    event: { request: { uri, headers: { host: { value: host } } } },
  }));
  void stack;
  return sandbox.result;
}

describe('MtaStsDomains with 30 domains in their own zones', () => {
  const names = brands(30);
  const { stack, domains, template } = build(names);
  const objects = publishedPolicies(template.toJSON() as any);

  test('stores one policy object per distinct policy text, keyed by its id', () => {
    const expected = MODES.map(mode => new MtaStsPolicy({ mode, mx: ['*.mail.example.net'] }));
    expect(objects.map(o => o.key).sort()).toEqual(expected.map(p => `mta-sts/${p.id}.txt`).sort());
    for (const policy of expected) {
      expect(objects.find(o => o.key === `mta-sts/${policy.id}.txt`)!.body).toBe(policy.text);
    }
  });

  test('serves each mta-sts.<domain> host its own policy and no other', () => {
    for (const name of names) {
      // GIVEN the policy this domain must get
      const expected = new MtaStsPolicy({ mode: modeOf(name), mx: ['*.mail.example.net'] });
      const distributionId = stack.getLogicalId(domains.distributionFor(name).node.defaultChild as any);
      // WHEN a sender fetches https://mta-sts.<domain>/.well-known/mta-sts.txt
      const request = route(stack, template, distributionId, `mta-sts.${name}`, '/.well-known/mta-sts.txt');
      // THEN the request reaches the object holding exactly that policy
      expect(request.uri).toBe(`/mta-sts/${expected.id}.txt`);
      const object = objects.find(o => `/${o.key}` === request.uri)!;
      expect(object.body).toBe(expected.text);
      // and an independent MTA-STS client reads the configured policy from it
      const parsed = parsePolicy(object.body);
      expect(parsed).toEqual({ version: 'STSv1', mode: modeOf(name), mx: ['*.mail.example.net'], maxAge: 604800 });
      // and the _mta-sts record announces that policy's id
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: `_mta-sts.${name}.`, Type: 'TXT', ResourceRecords: [`"v=STSv1; id=${expected.id}"`],
      });
    }
  });

  test('answers 404 for hosts of other groups, unknown hosts and other paths', () => {
    const first = domains.distributions[0];
    const distributionId = stack.getLogicalId(first.node.defaultChild as any);
    const foreign = names.find(name => domains.distributionFor(name) !== first)!;
    expect(route(stack, template, distributionId, `mta-sts.${foreign}`, '/.well-known/mta-sts.txt').statusCode).toBe(404);
    expect(route(stack, template, distributionId, 'mta-sts.unknown.example', '/.well-known/mta-sts.txt').statusCode).toBe(404);
    const own = names.find(name => domains.distributionFor(name) === first)!;
    expect(route(stack, template, distributionId, `mta-sts.${own}`, '/index.html').statusCode).toBe(404);
    expect(route(stack, template, distributionId, `MTA-STS.${own.toUpperCase()}.`, '/.well-known/mta-sts.txt').uri).toMatch(/^\/mta-sts\/[0-9a-f]{32}\.txt$/);
  });

  test('groups at most 10 names per certificate and distribution, each name in exactly one group', () => {
    const certificates = Object.values(template.findResources('AWS::CertificateManager::Certificate'));
    const distributions = Object.values(template.findResources('AWS::CloudFront::Distribution'));
    expect(certificates.length).toBe(domains.distributions.length);
    expect(distributions.length).toBe(domains.distributions.length);
    const aliases = distributions.flatMap(d => d.Properties.DistributionConfig.Aliases as string[]);
    expect(aliases.sort()).toEqual(names.map(n => `mta-sts.${n}`).sort());
    for (const d of distributions) {
      expect(d.Properties.DistributionConfig.Aliases.length).toBeLessThanOrEqual(10);
    }
    for (const c of certificates) {
      const covered = [c.Properties.DomainName, ...(c.Properties.SubjectAlternativeNames ?? [])];
      expect(covered.length).toBeLessThanOrEqual(10);
      expect(c.Properties.DomainValidationOptions).toEqual(covered.map((name: string) => ({
        DomainName: name, HostedZoneId: `Z${name.slice('mta-sts.'.length).replace(/\W/g, '').toUpperCase()}`,
      })));
    }
  });

  test('shares one bucket, one origin access control and one upload function', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.resourceCountIs('AWS::Lambda::Function', 1);
  });

  test('serves every distribution with the single-domain settings plus its routing function', () => {
    template.allResourcesProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        IPV6Enabled: true,
        ViewerCertificate: Match.objectLike({ MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' }),
        DefaultCacheBehavior: Match.objectLike({
          ViewerProtocolPolicy: 'https-only',
          CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
          FunctionAssociations: [{ EventType: 'viewer-request', FunctionARN: Match.anyValue() }],
        }),
      }),
    });
  });

  test('announces each policy id only after its object and its distribution exist', () => {
    for (const name of names) {
      const recordId = stack.getLogicalId(domains.policyRecordFor(name).node.defaultChild as any);
      const dependsOn: string[] = template.toJSON().Resources[recordId].DependsOn;
      const policyId = domains.policyFor(name).id;
      const objectId = Object.keys(template.findResources('Custom::MtaStsPolicyObject'))
        .find(id => flatten(template.toJSON().Resources[id].Properties.Create).includes(`mta-sts/${policyId}.txt`))!;
      expect(dependsOn).toEqual(expect.arrayContaining([objectId, stack.getLogicalId(domains.distributionFor(name).node.defaultChild as any)]));
    }
  });

  test('publishes each domain\'s TLS-RPT record', () => {
    for (const name of names) {
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: `_smtp._tls.${name}.`, Type: 'TXT', ResourceRecords: ['"v=TLSRPTv1; rua=mailto:tls@example.net"'],
      });
    }
  });
});

describe('MtaStsDomains stability', () => {
  function resourcesById(template: Template): Record<string, unknown> {
    return template.toJSON().Resources;
  }

  test('adding a domain leaves every resource outside its group unchanged', () => {
    // GIVEN
    const before = build(brands(30));
    // WHEN a domain is added that falls in a group with room
    const added = brands(20, 100).find(name => groupDomains([...brands(30), name], 10).size === groupDomains(brands(30), 10).size)!;
    const after = build([...brands(30), added]);
    // THEN only the added domain's records and its group's resources differ
    const group = after.domains.distributionFor(added).node.scope!.node.id;
    const changed = Object.entries(resourcesById(after.template))
      .filter(([id, resource]) => JSON.stringify(resourcesById(before.template)[id]) !== JSON.stringify(resource))
      .map(([id]) => id);
    expect(changed.length).toBeGreaterThan(0);
    for (const id of changed) {
      expect(id).toMatch(new RegExp(`^MtaSts(${group}|${added.replace(/\W/g, '')})`));
    }
    const removed = Object.keys(resourcesById(before.template)).filter(id => !(id in resourcesById(after.template)));
    expect(removed).toEqual([]);
  });

  test('removing a domain leaves every resource outside its group unchanged', () => {
    const names = brands(30);
    const before = build(names);
    const victim = names.find(name => groupDomains(names.filter(n => n !== name), 10).size === groupDomains(names, 10).size)!;
    const after = build(names.filter(n => n !== victim));
    const group = before.domains.distributionFor(victim).node.scope!.node.id;
    for (const [id, resource] of Object.entries(resourcesById(before.template))) {
      if (!new RegExp(`^MtaSts(${group}|${victim.replace(/\W/g, '')})`).test(id)) {
        expect({ id, resource: resourcesById(after.template)[id] }).toEqual({ id, resource });
      }
    }
  });

  test('changing one domain\'s policy replaces only its group\'s routing function', () => {
    const names = brands(30);
    const before = build(names);
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const changedDomain = names[0];
    new MtaStsDomains(stack, 'MtaSts', {
      mx: ['*.mail.example.net'],
      tlsRpt: { rua: ['mailto:tls@example.net'] },
      domains: names.map(name => ({
        hostedZone: zone(stack, name),
        mode: modeOf(name),
        maxAge: name === changedDomain ? Duration.days(1) : undefined,
      })),
    });
    const after = Template.fromStack(stack);
    const functionsBefore = Object.values(before.template.findResources('AWS::CloudFront::Function')).map((f: any) => f.Properties.Name).sort();
    const functionsAfter = Object.values(after.findResources('AWS::CloudFront::Function')).map((f: any) => f.Properties.Name).sort();
    const gone = functionsBefore.filter(n => !functionsAfter.includes(n));
    expect(gone).toHaveLength(1);
    expect(functionsAfter.filter(n => !functionsBefore.includes(n))).toHaveLength(1);
    expect(gone[0]).toMatch(/^Stack-MtaSts-Group[01]*-[0-9A-F]{8}-us-east-1-[0-9a-f]{16}$/);
  });

  test('synthesizes byte-identical templates from the same input', () => {
    expect(JSON.stringify(build(brands(30)).template.toJSON())).toBe(JSON.stringify(build(brands(30)).template.toJSON()));
  });

  test('does not depend on the order domains are listed in', () => {
    const names = brands(12);
    const a = build(names).template.toJSON();
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    new MtaStsDomains(stack, 'MtaSts', {
      mx: ['*.mail.example.net'],
      tlsRpt: { rua: ['mailto:tls@example.net'] },
      domains: names.map(name => ({ hostedZone: zone(stack, name), mode: modeOf(name) })).reverse(),
    });
    const b = Template.fromStack(stack).toJSON();
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });
});

describe('MtaStsDomains at scale', () => {
  test('publishes 100 domains in one stack under 500 resources, 1 MB of template and one Lambda', () => {
    const { template } = build(brands(100));
    const json = template.toJSON();
    expect(Object.keys(json.Resources).length).toBeLessThan(500);
    expect(Buffer.byteLength(JSON.stringify(json))).toBeLessThan(1_000_000);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('Custom::MtaStsPolicyObject', 3);
    template.resourceCountIs('AWS::Route53::RecordSet', 400);
  });
});

describe('MtaStsDomains options and validation', () => {
  test('lets a domain override the defaults', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const domains = new MtaStsDomains(stack, 'MtaSts', {
      mode: MtaStsMode.ENFORCE,
      mx: ['mx.example.net'],
      maxAge: Duration.days(14),
      domains: [
        { hostedZone: zone(stack, 'a.example') },
        { hostedZone: zone(stack, 'b.example'), mx: ['*.mail.b.example'], mode: MtaStsMode.TESTING, tlsRpt: { rua: ['https://r.b.example/v1'] } },
      ],
    });
    expect(domains.policyFor('a.example').text).toBe('version: STSv1\r\nmode: enforce\r\nmx: mx.example.net\r\nmax_age: 1209600\r\n');
    expect(domains.policyFor('B.example.').text).toBe('version: STSv1\r\nmode: testing\r\nmx: *.mail.b.example\r\nmax_age: 1209600\r\n');
    expect(domains.tlsRptRecordFor('a.example')).toBeUndefined();
    expect(domains.policyUrlFor('b.example')).toBe('https://mta-sts.b.example/.well-known/mta-sts.txt');
    Annotations.fromStack(stack).hasWarning('/Stack/MtaSts/a.example', Match.stringLikeRegexp('a.example: no `tlsRpt` given'));
    Template.fromStack(stack).hasResourceProperties('AWS::Route53::RecordSet', {
      Name: '_smtp._tls.b.example.', ResourceRecords: ['"v=TLSRPTv1; rua=https://r.b.example/v1"'],
    });
  });

  test('keeps per-domain child ids derived from the domain name', () => {
    const { domains } = build(brands(3));
    expect(domains.node.children.map(c => c.node.id)).toEqual([
      'Bucket', 'OriginAccessControl',
      ...['testing', 'enforce', 'none'].map(mode => `Policy${new MtaStsPolicy({ mode: mode as MtaStsMode, mx: ['*.mail.example.net'] }).id}`),
      'Group', 'brand0.example', 'brand1.example', 'brand2.example',
    ]);
    expect(domains.node.findChild('brand0.example').node.children.map(c => c.node.id)).toEqual(['AliasRecord', 'AliasRecordIpv6', 'PolicyRecord', 'TlsRptRecord']);
    expect(domains.node.findChild('Group').node.children.map(c => c.node.id)).toEqual(['Certificate', 'Routing', 'Distribution']);
  });

  test('puts group certificates in the us-east-1 companion stack for a stack elsewhere', () => {
    const { app } = build(brands(12), {}, 'eu-west-1');
    const companion = app.node.findChild('Stack-MtaStsCertificates') as Stack;
    expect(companion.region).toBe('us-east-1');
    const count = Object.keys(Template.fromStack(companion).findResources('AWS::CertificateManager::Certificate')).length;
    expect(count).toBeGreaterThanOrEqual(2);
  });

  test('fails once, naming each domain and prop', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    const cZone = zone(stack, 'c.example');
    expect(() => new MtaStsDomains(stack, 'MtaSts', {
      mx: ['mx.example.net', 'bad host'],
      certificateGroupSize: 0,
      domains: [
        { hostedZone: zone(stack, 'a.example'), mx: ['mx*.a.example'] },
        { hostedZone: zone(stack, 'b.example') },
        { hostedZone: cZone },
        { hostedZone: cZone, domainName: 'C.example', mx: ['mx.c.example'] },
        { hostedZone: zone(stack, 'd.example'), mode: MtaStsMode.ENFORCE, mx: [] },
        { hostedZone: zone(stack, 'e.example'), domainName: 'e.other' },
      ],
    })).toThrow([
      'Invalid MtaStsDomains configuration at Stack/MtaSts (6 problems):',
      '  - `certificateGroupSize` must be a whole number from 1 to 100, got: 0',
      '  - a.example: `domains[0].mx[0]` must be a hostname or *.hostname and may use * only as the whole leftmost label (*.example.com), got: "mx*.a.example"',
      '  - `mx[1]` must be a hostname or *.hostname and must not contain white space, got: "bad host"',
      '  - c.example: `domains[3].domainName` must not repeat `domains[2]`, got: "c.example"',
      '  - d.example: `domains[4].mx` must list at least one MX host unless mode is "none", got: [] with mode "enforce"',
      '  - e.other: `domains[5].domainName` must be the hosted zone\'s name (e.example) or a name below it, got: "e.other"',
    ].join('\n'));
  });

  test('fails when no domains are given', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: { account: ACCOUNT, region: 'us-east-1' } });
    expect(() => new MtaStsDomains(stack, 'MtaSts', { mx: ['mx.example.net'], domains: [] }))
      .toThrow('`domains` must list at least one domain, got: []');
  });

  test('fails when asked for a domain it does not publish', () => {
    const { domains } = build(brands(2));
    expect(() => domains.policyFor('other.example')).toThrow('`domainName` must be one of the domains of Stack/MtaSts, got: "other.example"');
  });
});
