import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Aspects, CfnResource, Duration, Lazy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { MtaStsMode, TlsRptCollector, TlsRptCollectorProps } from '../src';
import { exampleStack } from './fixtures';
import { CDK_NAG_MAJOR } from './leg';
import { openStack, synthesize } from './support/packaged';

function collectorStack(region = 'eu-west-1', props: Partial<TlsRptCollectorProps> = {}) {
  const { app, stack, hostedZone } = exampleStack(region);
  const collector = new TlsRptCollector(stack, 'Collector', { hostedZone, ...props });
  return { app, stack, hostedZone, collector, template: () => Template.fromStack(stack) };
}

describe('reception', () => {
  test('the receiving address is on a dedicated subdomain and rua is its mailto URI', () => {
    const { collector } = collectorStack();
    expect(collector.receivingDomain).toBe('tlsrpt.example.com');
    expect(collector.address).toBe('reports@tlsrpt.example.com');
    expect(collector.rua).toBe('mailto:reports@tlsrpt.example.com');
  });

  test('creates the SES domain identity with its DKIM records, and the MX record to SES inbound in the stack region', () => {
    const { template } = collectorStack('eu-west-1', { receivingDomain: 'TLS-Reports.Example.com', localPart: 'tlsrpt' });
    const t = template();
    t.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'tls-reports.example.com' });
    t.resourceCountIs('AWS::Route53::RecordSet', 4);
    t.hasResourceProperties('AWS::Route53::RecordSet', {
      HostedZoneId: 'Z0123456789ABCDEFGHIJ',
      Name: 'tls-reports.example.com.',
      Type: 'MX',
      ResourceRecords: ['10 inbound-smtp.eu-west-1.amazonaws.com'],
    });
    for (const n of [1, 2, 3]) {
      t.hasResourceProperties('AWS::Route53::RecordSet', {
        Type: 'CNAME',
        Name: { 'Fn::GetAtt': [Match.stringLikeRegexp('CollectorIdentity'), `DkimDNSTokenName${n}`] },
      });
    }
    // The zone's own MX records are untouched: the only MX is the subdomain's.
    expect(Object.values(t.findResources('AWS::Route53::RecordSet', { Properties: { Type: 'MX' } }))).toHaveLength(1);
  });

  test('the receipt rule stores the raw message in S3, then invokes the processor', () => {
    const { template } = collectorStack();
    template().hasResourceProperties('AWS::SES::ReceiptRule', {
      RuleSetName: { Ref: Match.stringLikeRegexp('CollectorRuleSet') },
      Rule: {
        Enabled: true,
        Recipients: ['reports@tlsrpt.example.com'],
        ScanEnabled: true,
        Actions: [
          { S3Action: { BucketName: { Ref: Match.stringLikeRegexp('CollectorBucket') }, ObjectKeyPrefix: 'raw/' } },
          { LambdaAction: { FunctionArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('CollectorProcessor'), 'Arn'] }, InvocationType: 'Event' } },
        ],
      },
    });
  });

  test('creates a rule set and activates it with the refusing custom resource, after the rule exists', () => {
    const { template } = collectorStack();
    const t = template();
    t.resourceCountIs('AWS::SES::ReceiptRuleSet', 1);
    t.hasResource('Custom::TlsRptReceiptRuleSetActivation', {
      Properties: {
        ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('CustomTlsRptReceiptRuleSetActivationCustomResourceProviderHandler'), 'Arn'] },
        RuleSetName: { Ref: Match.stringLikeRegexp('CollectorRuleSet') },
        CollectorPath: 'Stack/Collector',
      },
      DependsOn: Match.arrayWith([Match.stringLikeRegexp('CollectorMxRecord'), Match.stringLikeRegexp('CollectorReceiptRule')]),
    });
    // The provider may only describe and set the active rule set, and runs the bundled handler on Node.js 22.
    t.hasResourceProperties('AWS::IAM::Role', {
      Policies: [Match.objectLike({
        PolicyDocument: Match.objectLike({
          Statement: [{ Effect: 'Allow', Action: ['ses:DescribeActiveReceiptRuleSet', 'ses:SetActiveReceiptRuleSet'], Resource: '*' }],
        }),
      })],
    });
    t.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs22.x', Handler: '__entrypoint__.handler' });
  });

  test('fails when a second collector of the app would create and activate a rule set in the same account and region', () => {
    // GIVEN
    const { app, stack, hostedZone } = exampleStack('eu-west-1');
    new TlsRptCollector(stack, 'Collector', { hostedZone });
    const other = new Stack(app, 'Other', { env: { account: '111111111111', region: 'eu-west-1' } });
    const zone = route53.HostedZone.fromHostedZoneAttributes(other, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
    // WHEN / THEN
    expect(() => new TlsRptCollector(other, 'Collector', { hostedZone: zone, receivingDomain: 'tlsrpt2.example.com' })).toThrow(
      'Invalid TlsRptCollector props at Other/Collector (1 problem):\n  - `receiptRuleSet` must be given: Stack/Collector already creates and activates the receipt rule set '
      + 'of this account and region, and only one can be active; pass its receiptRuleSet, got: none');
  });

  test('a second collector may add its rule to the first one\'s rule set, or create its own in another region', () => {
    // GIVEN
    const { app, stack, hostedZone } = exampleStack('eu-west-1');
    const first = new TlsRptCollector(stack, 'Collector', { hostedZone });
    // WHEN
    new TlsRptCollector(stack, 'Second', { hostedZone, receivingDomain: 'tlsrpt2.example.com', receiptRuleSet: first.receiptRuleSet });
    const elsewhere = new Stack(app, 'Elsewhere', { env: { account: '111111111111', region: 'us-east-1' } });
    const zone = route53.HostedZone.fromHostedZoneAttributes(elsewhere, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
    new TlsRptCollector(elsewhere, 'Collector', { hostedZone: zone, receivingDomain: 'tlsrpt3.example.com' });
    // THEN
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SES::ReceiptRuleSet', 1);
    t.resourceCountIs('AWS::SES::ReceiptRule', 2);
    t.resourceCountIs('Custom::TlsRptReceiptRuleSetActivation', 1);
    Template.fromStack(elsewhere).resourceCountIs('Custom::TlsRptReceiptRuleSetActivation', 1);
  });

  test('adds its rule to a given active rule set, and neither creates nor activates one', () => {
    const { stack, hostedZone } = exampleStack('us-east-1');
    new TlsRptCollector(stack, 'Collector', {
      hostedZone,
      receiptRuleSet: ses.ReceiptRuleSet.fromReceiptRuleSetName(stack, 'Active', 'company-inbound'),
    });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SES::ReceiptRuleSet', 0);
    t.resourceCountIs('Custom::TlsRptReceiptRuleSetActivation', 0);
    t.hasResourceProperties('AWS::SES::ReceiptRule', { RuleSetName: 'company-inbound' });
  });
});

describe('HTTPS reception', () => {
  test('is off by default', () => {
    const { collector, template } = collectorStack();
    expect(collector.httpsRua).toBeUndefined();
    template().resourceCountIs('AWS::Lambda::Url', 0);
  });

  test('adds a function URL without auth in front of the HTTPS handler, which may not read raw messages', () => {
    const { stack, collector, template } = collectorStack('eu-west-1', { httpsReception: true });
    const t = template();
    t.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('CollectorHttpsProcessor'), 'Arn'] },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.httpsHandler',
      Environment: { Variables: Match.objectLike({ TLSRPT_BUCKET: { Ref: Match.stringLikeRegexp('CollectorBucket') } }) },
    });
    expect(stack.resolve(collector.httpsRua)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^CollectorHttpsProcessorFunctionUrl/), 'FunctionUrl'] });
    const policy = Object.entries(t.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('CollectorHttpsProcessor'))![1];
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements.map((statement: { Action: string }) => statement.Action)).toEqual(['s3:PutObject', 's3:GetObject']);
    // It reads back only the https- objects it writes (to recognise its own write after a lost answer), never raw/.
    expect(statements[1].Resource).toEqual(statements[0].Resource);
    expect(JSON.stringify(statements)).not.toContain('/raw/');
  });
});

describe('region check', () => {
  test('fails when SES cannot receive email in the stack region', () => {
    expect(() => collectorStack('ap-south-1')).toThrow(
      'Invalid TlsRptCollector props at Stack/Collector (1 problem):\n  - `region` of the stack must be one where Amazon SES receives email (us-east-1, us-east-2, us-west-2, '
      + 'ca-central-1, eu-west-1, eu-west-2, eu-central-1, ap-southeast-1, ap-southeast-2, ap-southeast-3, ap-northeast-1; '
      + 'set `skipRegionCheck: true` if SES has added yours since), got: "ap-south-1"',
    );
  });

  test('skipRegionCheck allows a region missing from the list', () => {
    const { template } = collectorStack('ap-south-1', { skipRegionCheck: true });
    template().hasResourceProperties('AWS::Route53::RecordSet', { Type: 'MX', ResourceRecords: ['10 inbound-smtp.ap-south-1.amazonaws.com'] });
  });

  test('a stack without a region is not checked and points the MX at the deployment region', () => {
    const app = new App();
    const stack = new Stack(app, 'Agnostic');
    const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
    new TlsRptCollector(stack, 'Collector', { hostedZone });
    Template.fromStack(stack).hasResourceProperties('AWS::Route53::RecordSet', {
      Type: 'MX',
      ResourceRecords: [{ 'Fn::Join': ['', ['10 inbound-smtp.', { Ref: 'AWS::Region' }, '.amazonaws.com']] }],
    });
  });
});

describe('storage and processing', () => {
  test('the bucket is private, encrypted, TLS-only, retained, with a lifecycle rule per prefix', () => {
    const { template } = collectorStack('eu-west-1', { rawMessageRetention: Duration.days(7), reportRetention: Duration.days(730) });
    const t = template();
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LifecycleConfiguration: {
          Rules: [
            { Id: 'RawMessages', Prefix: 'raw/', ExpirationInDays: 7, Status: 'Enabled' },
            { Id: 'Reports', Prefix: 'reports/', ExpirationInDays: 730, Status: 'Enabled' },
            { Id: 'Unconfigured', Prefix: 'unconfigured/', ExpirationInDays: 90, Status: 'Enabled' },
            { Id: 'Quarantine', Prefix: 'quarantine/', ExpirationInDays: 90, Status: 'Enabled' },
            { Id: 'Rejected', Prefix: 'rejected/', ExpirationInDays: 90, Status: 'Enabled' },
            { Id: 'AbortIncompleteUploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
          ],
        },
      },
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'ses.amazonaws.com' }, Action: 's3:PutObject' }),
        ]),
      },
    });
  });

  test('reports are kept until deleted by default: no lifecycle rule for reports/', () => {
    const rules = Object.values(collectorStack().template().findResources('AWS::S3::Bucket'))[0].Properties.LifecycleConfiguration.Rules;
    expect(rules.map((rule: { Id: string }) => rule.Id)).toEqual(['RawMessages', 'Unconfigured', 'Quarantine', 'Rejected', 'AbortIncompleteUploads']);
  });

  test('the processor runs the bundled handler with its limits, and gets the domains added after construction in its code', () => {
    // GIVEN
    const { app, collector, template } = collectorStack('eu-west-1', {
      policyDomains: [{ domainName: 'Example.com', mode: MtaStsMode.TESTING }],
      metricNamespace: 'Mail/TlsRpt',
    });
    // WHEN
    collector.addPolicyDomain('eu.example.com', MtaStsMode.ENFORCE);
    // THEN
    const t = template();
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 60,
      Environment: {
        Variables: {
          TLSRPT_BUCKET: { Ref: Match.stringLikeRegexp('CollectorBucket') },
          TLSRPT_METRIC_NAMESPACE: 'Mail/TlsRpt',
          TLSRPT_MAX_MESSAGE_BYTES: '10485760',
          TLSRPT_MAX_REPORT_BYTES: '16777216',
        },
      },
    });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2 });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    expect(collector.policyDomainNames).toEqual(['eu.example.com', 'example.com']);
    // The domains and their modes are a file beside the bundle in the function's code asset, sorted.
    const processor = openStack(synthesize(app), 'Stack').findFunction('CollectorProcessor');
    expect(readdirSync(processor.assetDir).sort()).toEqual(['index.js', 'policy-domains.json']);
    expect(readFileSync(join(processor.assetDir, 'policy-domains.json'), 'utf8'))
      .toBe('{"version":1,"policyDomains":{"eu.example.com":"enforce","example.com":"testing"}}\n');
  });

  test('the processor may read raw messages and its own writes, and write only under its own prefixes', () => {
    const statements = Object.values(collectorStack().template().findResources('AWS::IAM::Policy'))
      .flatMap(policy => policy.Properties.PolicyDocument.Statement);
    const arnSuffixes = (action: string) => statements.filter(statement => statement.Action === action)
      .flatMap(statement => [statement.Resource].flat())
      .map(resource => resource['Fn::Join'][1][1]);
    // Reading its own writes back tells a write whose answer was lost from one made earlier.
    expect(arnSuffixes('s3:GetObject')).toEqual(['/raw/*', '/reports/*', '/unconfigured/*', '/quarantine/*', '/rejected/*']);
    expect(arnSuffixes('s3:PutObject')).toEqual(['/reports/*', '/unconfigured/*', '/quarantine/*', '/rejected/*']);
    // Listing lets a missing raw message be told from a denied one (404, not 403).
    expect(statements.filter(statement => statement.Action === 's3:ListBucket').map(statement => statement.Resource))
      .toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^CollectorBucket/), 'Arn'] }]);
  });
});

describe('policy domains, metrics and alarms', () => {
  test('both functions get the domains in one code asset: the same domains in any order make the same asset, others another', () => {
    // GIVEN
    const s3Keys = (domains: Array<[string, MtaStsMode]>) => {
      const { collector, template } = collectorStack('eu-west-1', { httpsReception: true });
      domains.forEach(([domain, mode]) => collector.addPolicyDomain(domain, mode));
      return Object.values(template().findResources('AWS::Lambda::Function', { Properties: { Handler: Match.stringLikeRegexp('^index\\.') } }))
        .map(fn => fn.Properties.Code.S3Key);
    };
    // WHEN
    const inOrder = s3Keys([['a.example.com', MtaStsMode.TESTING], ['b.example.com', MtaStsMode.ENFORCE]]);
    const reordered = s3Keys([['B.example.com.', MtaStsMode.ENFORCE], ['a.example.com', MtaStsMode.TESTING]]);
    const otherMode = s3Keys([['a.example.com', MtaStsMode.ENFORCE], ['b.example.com', MtaStsMode.ENFORCE]]);
    // THEN
    expect(inOrder).toHaveLength(2);
    expect(inOrder[1]).toBe(inOrder[0]);
    expect(reordered).toEqual(inOrder);
    expect(otherMode[0]).not.toBe(inOrder[0]);
  });

  test('one alarm watches the failed sessions of every domain in enforce mode (the Mode dimension), notifying the given topic', () => {
    // GIVEN
    const { stack, hostedZone } = exampleStack('eu-west-1');
    const alarmTopic = sns.Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:eu-west-1:111111111111:alerts');
    const collector = new TlsRptCollector(stack, 'Collector', { hostedZone, alarmTopic, failureAlarmThreshold: 5 });
    // WHEN
    collector.addPolicyDomain('example.com', MtaStsMode.TESTING);
    collector.addPolicyDomain('eu.example.com', MtaStsMode.ENFORCE);
    collector.addPolicyDomain('us.example.com', MtaStsMode.ENFORCE);
    // THEN
    const t = Template.fromStack(stack);
    const alarms = Object.entries(t.findResources('AWS::CloudWatch::Alarm', { Properties: { Namespace: 'TlsRpt' } }));
    expect(alarms).toHaveLength(1);
    const [alarmId, alarm] = alarms[0];
    expect(alarmId).toMatch(/^CollectorEnforceFailureAlarm[0-9A-F]{8}$/);
    expect(alarm.Properties).toEqual({
      AlarmDescription: {
        'Fn::Join': ['', [
          'TLS-RPT reporters saw failed TLS sessions to policy domains whose MTA-STS policy is in enforce mode: senders do not deliver '
            + 'mail over those sessions. The dashboard ',
          { Ref: only(t, 'AWS::CloudWatch::Dashboard').id },
          ' lists the domains ("Domains in enforce mode with failed sessions"); the stored reports say why.',
        ]],
      },
      Namespace: 'TlsRpt',
      MetricName: 'FailedSessions',
      Dimensions: [{ Name: 'Mode', Value: 'enforce' }],
      Statistic: 'Sum',
      Period: 3600,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: ['arn:aws:sns:eu-west-1:111111111111:alerts'],
    });
    // enforceAlarm answers that alarm for each domain in enforce mode, nothing for the others.
    expect(stack.resolve(collector.enforceAlarm('EU.example.com.')!.alarmArn)).toEqual({ 'Fn::GetAtt': [alarmId, 'Arn'] });
    expect(collector.enforceAlarm('us.example.com')).toBe(collector.enforceAlarm('eu.example.com'));
    expect(collector.enforceAlarm('example.com')).toBeUndefined();
    expect(collector.enforceAlarm('other.example.com')).toBeUndefined();
  });

  test('without a domain in enforce mode there is no enforce alarm', () => {
    const { collector, template } = collectorStack();
    collector.addPolicyDomain('example.com', MtaStsMode.TESTING);
    template().resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { Namespace: 'TlsRpt' }, 0);
  });

  test('metricFailedSessions and metricSuccessfulSessions are the processor\'s sums for one domain, over 5 minutes by default', () => {
    // GIVEN
    const { stack, collector, template } = collectorStack('eu-west-1', { metricNamespace: 'Mail/TlsRpt' });
    // WHEN
    collector.metricFailedSessions('Example.COM.').createAlarm(stack, 'Failed', { threshold: 1, evaluationPeriods: 1 });
    collector.metricSuccessfulSessions('example.com', { period: Duration.days(1), statistic: 'Maximum' })
      .createAlarm(stack, 'Successful', { threshold: 1, evaluationPeriods: 1 });
    // THEN
    const t = template();
    const properties = (id: string) => t.toJSON().Resources[stack.getLogicalId(stack.node.findChild(id).node.defaultChild as CfnResource)].Properties;
    expect(properties('Failed')).toMatchObject({
      Namespace: 'Mail/TlsRpt', MetricName: 'FailedSessions', Dimensions: [{ Name: 'PolicyDomain', Value: 'example.com' }], Statistic: 'Sum', Period: 300,
    });
    expect(properties('Successful')).toMatchObject({
      Namespace: 'Mail/TlsRpt', MetricName: 'SuccessfulSessions', Dimensions: [{ Name: 'PolicyDomain', Value: 'example.com' }], Statistic: 'Maximum', Period: 86400,
    });
  });

  test('fails when a metric method gets a name that is not a literal domain name', () => {
    const { collector } = collectorStack();
    expect(() => collector.metricFailedSessions('not a domain'))
      .toThrow('`domainName` must be a literal domain name (it names the collector\'s metrics and partitions), got: "not a domain"');
    expect(() => collector.metricSuccessfulSessions('-example.com'))
      .toThrow('`domainName` must be a literal domain name (it names the collector\'s metrics and partitions), got: "-example.com"');
    expect(() => collector.metricSuccessfulSessions(Lazy.string({ produce: () => 'example.com' }))).toThrow(/got: an unresolved token$/);
  });

  test('grantQueryReports lets a principal read the Glue table and the stored reports, and nothing else', () => {
    // GIVEN
    const { stack, collector, template } = collectorStack('eu-west-1', { databaseName: 'mail_reports' });
    const role = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });
    // WHEN
    const grant = collector.grantQueryReports(role);
    // THEN
    expect(grant.success).toBe(true);
    const t = template();
    const bucket = only(t, 'AWS::S3::Bucket').id;
    const policies = Object.values(t.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: stack.getLogicalId(role.node.defaultChild as CfnResource) }] } }));
    expect(policies).toHaveLength(1);
    expect(policies[0].Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
        Resource: [
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:eu-west-1:111111111111:catalog']] },
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:eu-west-1:111111111111:database/mail_reports']] },
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:eu-west-1:111111111111:table/mail_reports/reports']] },
        ],
      },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/reports/*']] } },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [bucket, 'Arn'] }, Condition: { StringLike: { 's3:prefix': ['reports/*'] } } },
      { Effect: 'Allow', Action: 's3:GetBucketLocation', Resource: { 'Fn::GetAtt': [bucket, 'Arn'] } },
    ]);
    expect(JSON.stringify(policies[0])).not.toMatch(/raw\/|quarantine\/|unconfigured\/|rejected\/|s3:PutObject|"\*"/);
  });

  test('the dashboard has a row per domain, widgets that cover every domain, and the query table enumerates domains added later', () => {
    // GIVEN
    const { collector, template } = collectorStack('eu-west-1', { httpsReception: true, countHttpsReports: true });
    // WHEN
    collector.addPolicyDomain('example.org', MtaStsMode.ENFORCE);
    collector.addPolicyDomain('example.com', MtaStsMode.TESTING);
    // THEN
    const t = template();
    const widgets = dashboardWidgets(t);
    expect(widgets.map(widget => `${widget.x},${widget.y} ${widget.width}x${widget.height} ${widget.properties.title ?? widget.type}`)).toEqual([
      '0,0 12x6 text',
      '12,0 12x6 Messages received (accepted, quarantined, rejected)',
      '0,6 8x6 Domains in enforce mode: sessions (the alarm watches failed sessions per hour)',
      '8,6 8x6 All domains: failures by domain and result type (top 20)',
      '16,6 8x6 All domains: sts-* and certificate-* failures (top 20; must be 0 to enforce)',
      '0,12 24x6 Domains in enforce mode with failed sessions (what the alarm counts), from the processor logs',
      '0,18 8x6 example.com: sessions',
      '8,18 8x6 example.com: failures by result type',
      '16,18 8x6 example.com: sts-* and certificate-* failures (must be 0 to enforce)',
      '0,24 8x6 example.org: sessions',
      '8,24 8x6 example.org: failures by result type',
      '16,24 8x6 example.org: sts-* and certificate-* failures (must be 0 to enforce)',
    ]);
    expect(widgets[2].properties.metrics).toEqual([
      ['TlsRpt', 'SuccessfulSessions', 'Mode', 'enforce', { label: 'successful', period: 86400, stat: 'Sum' }],
      ['TlsRpt', 'FailedSessions', 'Mode', 'enforce', { label: 'failed', period: 86400, stat: 'Sum' }],
      ['TlsRpt', 'FailedSessions', 'Mode', 'testing', { label: 'failed, domains in testing mode', period: 86400, stat: 'Sum', yAxis: 'right' }],
    ]);
    // Every domain's failures: a Metrics Insights query sorts them all (up to 10,000 metrics), where SEARCH returns any 500.
    expect(widgets[3].properties.metrics).toEqual([[{
      label: 'failures',
      expression: 'SELECT SUM(FailedSessions) FROM SCHEMA("TlsRpt", PolicyDomain, ResultType) GROUP BY PolicyDomain, ResultType ORDER BY SUM() DESC LIMIT 20',
      period: 86400,
    }]]);
    expect(widgets[4].properties.metrics).toEqual([[{
      label: 'blocking failures',
      expression: 'SORT(SEARCH(\'{TlsRpt,PolicyDomain,ResultType} MetricName="FailedSessions" (sts OR certificate)\', \'Sum\', 86400), SUM, DESC, 20)',
      period: 86400,
    }]]);
    // The table reads the EMF lines of both functions that count reports.
    expect(widgets[5].properties.query).toBe([
      'SOURCE \'PROCESSOR_LOGS\' | SOURCE \'HTTPS_PROCESSOR_LOGS\' | fields PolicyDomain, FailedSessions',
      '| filter Mode = "enforce" and FailedSessions > 0',
      '| stats sum(FailedSessions) as failedSessions, count(*) as reports by PolicyDomain',
      '| sort failedSessions desc',
      '| limit 100',
    ].join('\n'));
    expect(widgets[9].properties.metrics).toEqual([
      ['TlsRpt', 'SuccessfulSessions', 'PolicyDomain', 'example.org', { label: 'successful', period: 86400, stat: 'Sum' }],
      ['TlsRpt', 'FailedSessions', 'PolicyDomain', 'example.org', { label: 'failed', period: 86400, stat: 'Sum' }],
      ['TlsRpt', 'Reports', 'PolicyDomain', 'example.org', { label: 'reports', period: 86400, stat: 'Sum', yAxis: 'right' }],
    ]);
    expect(widgets[11].properties.metrics).toEqual([[{
      label: 'blocking failures',
      expression: 'SEARCH(\'{TlsRpt,PolicyDomain,ResultType} PolicyDomain="example.org" (sts OR certificate)\', \'Sum\', 86400)',
      period: 86400,
    }]]);
    t.hasResourceProperties('AWS::Glue::Table', {
      TableInput: {
        Name: 'reports',
        PartitionKeys: [{ Name: 'policy_domain', Type: 'string' }, { Name: 'report_date', Type: 'string' }],
        Parameters: Match.objectLike({
          'projection.enabled': 'true',
          'projection.policy_domain.type': 'enum',
          'projection.policy_domain.values': 'example.com,example.org',
          'projection.report_date.type': 'date',
          'projection.report_date.format': 'yyyy-MM-dd',
        }),
        StorageDescriptor: Match.objectLike({
          SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe', Parameters: { 'ignore.malformed.json': 'true' } },
        }),
      },
    });
  });

  test('beyond 25 domains the dashboard has no per-domain rows, only the widgets that cover every domain and a note', () => {
    // GIVEN
    const { collector, template } = collectorStack();
    // WHEN
    for (let n = 0; n < 26; n++) {
      collector.addPolicyDomain(`d${n}.example.com`, MtaStsMode.TESTING);
    }
    // THEN
    const widgets = dashboardWidgets(template());
    expect(widgets).toHaveLength(7);
    // Newer aws-cdk-lib versions add `background` to a text widget's properties.
    expect(widgets[6]).toMatchObject({ type: 'text', width: 24, height: 2, x: 0, y: 18 });
    expect(widgets[6].properties.markdown).toBe('Per-domain rows are shown for up to 25 policy domains; this collector counts 26. '
      + 'The widgets above cover every domain; for one domain, graph `collector.metricSuccessfulSessions(domain)` and '
      + '`metricFailedSessions(domain)`, or query the Athena table.');
    // Without countHttpsReports, the table reads the processor's logs only.
    expect(widgets[5].properties.query).toMatch(/^SOURCE 'PROCESSOR_LOGS' \| fields/);
  });

  test('without domains the query table needs the domain in each query (injected projection)', () => {
    collectorStack().template().hasResourceProperties('AWS::Glue::Table', {
      TableInput: { Parameters: Match.objectLike({ 'projection.policy_domain.type': 'injected', 'projection.policy_domain.values': Match.absent() }) },
    });
  });

  test('adding a domain again with the same mode changes nothing', () => {
    const { collector, template } = collectorStack();
    collector.addPolicyDomain('example.com', MtaStsMode.ENFORCE);
    collector.addPolicyDomain('EXAMPLE.com.', MtaStsMode.ENFORCE);
    expect(collector.policyDomainNames).toEqual(['example.com']);
    template().resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { Namespace: 'TlsRpt' }, 1);
  });

  test('fails when a domain is added again with another mode', () => {
    const { collector } = collectorStack();
    collector.addPolicyDomain('example.com', MtaStsMode.TESTING);
    expect(() => collector.addPolicyDomain('example.com', MtaStsMode.ENFORCE))
      .toThrow('`domainName` example.com was already added to the TLS-RPT collector with mode testing, got: mode enforce');
  });

  test('fails when a domain is added once the app is synthesized: the functions\' code holds the list', () => {
    // GIVEN
    const { app, collector } = collectorStack();
    collector.addPolicyDomain('example.com', MtaStsMode.TESTING);
    app.synth();
    // WHEN / THEN
    expect(() => collector.addPolicyDomain('example.org', MtaStsMode.TESTING)).toThrow('`domainName` must be added before the app is synthesized '
      + '(the collector\'s functions carry the domain list in their code, made at synthesis), got: "example.org"');
    // A domain it already has changes nothing, and synthesizing again gives the same template.
    collector.addPolicyDomain('example.com', MtaStsMode.TESTING);
    expect(() => app.synth({ force: true })).not.toThrow();
  });

  test('fails when a domain name is not a literal domain name', () => {
    const { collector } = collectorStack();
    expect(() => collector.addPolicyDomain('not a domain', MtaStsMode.TESTING))
      .toThrow('`domainName` must be a literal domain name (it names the collector\'s metrics and partitions), got: "not a domain"');
    expect(() => collector.addPolicyDomain(Lazy.string({ produce: () => 'example.com' }), MtaStsMode.TESTING)).toThrow(/got: an unresolved token/);
  });
});

/** The dashboard's widgets, its body parsed (log group names as SOURCE 'PROCESSOR_LOGS' and 'HTTPS_PROCESSOR_LOGS'). */
function dashboardWidgets(t: Template): any[] {
  const parts: unknown[] = only(t, 'AWS::CloudWatch::Dashboard').resource.Properties.DashboardBody['Fn::Join'][1];
  const body = parts.map(part => {
    if (typeof part === 'string') {
      return part;
    }
    const ref = (part as { Ref?: string }).Ref;
    return ref === 'AWS::Region' ? 'eu-west-1'
      : ref?.startsWith('CollectorHttpsProcessorLogs') ? 'HTTPS_PROCESSOR_LOGS'
        : ref?.startsWith('CollectorProcessorLogs') ? 'PROCESSOR_LOGS' : JSON.stringify(part);
  }).join('');
  return JSON.parse(body).widgets;
}

/** The one resource of a type, with its logical id. */
function only(t: Template, type: string): { id: string; resource: any } {
  const found = Object.entries(t.findResources(type));
  expect(found).toHaveLength(1);
  return { id: found[0][0], resource: found[0][1] };
}

/** The object ARN patterns (after the bucket ARN) a function's S3 PutObject statement allows. */
function putObjectPatterns(t: Template, functionPrefix: string): string[] {
  const policy = Object.entries(t.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith(`${functionPrefix}ServiceRole`))![1];
  return policy.Properties.PolicyDocument.Statement
    .filter((statement: { Action: string }) => statement.Action === 's3:PutObject')
    .flatMap((statement: { Resource: unknown }) => [statement.Resource].flat())
    .map((resource: any) => resource['Fn::Join'][1][1]);
}

describe('the receipt rule\'s bucket grant', () => {
  /** The SES statement of the collector bucket's policy. */
  function sesStatements(t: Template): any[] {
    return only(t, 'AWS::S3::BucketPolicy').resource.Properties.PolicyDocument.Statement
      .filter((statement: { Principal?: { Service?: string } }) => statement.Principal?.Service === 'ses.amazonaws.com');
  }

  test('lets SES store raw messages only for this account and this receipt rule (aws:SourceAccount and aws:SourceArn, not aws:Referer)', () => {
    // GIVEN
    const { template } = collectorStack('eu-west-1');
    // WHEN
    const t = template();
    // THEN
    const bucket = only(t, 'AWS::S3::Bucket').id;
    const ruleSet = only(t, 'AWS::SES::ReceiptRuleSet').id;
    const rule = only(t, 'AWS::SES::ReceiptRule');
    expect(rule.resource.Properties.Rule.Name).toBe('Stack-Collector-DB17FC34');
    expect(sesStatements(t)).toEqual([{
      Sid: 'AllowSesReceiptRuleToStoreRawMessages',
      Effect: 'Allow',
      Principal: { Service: 'ses.amazonaws.com' },
      Action: 's3:PutObject',
      Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/raw/*']] },
      Condition: {
        StringEquals: {
          'aws:SourceAccount': { Ref: 'AWS::AccountId' },
          'aws:SourceArn': {
            'Fn::Join': ['', [
              'arn:', { Ref: 'AWS::Partition' }, ':ses:eu-west-1:111111111111:receipt-rule-set/', { Ref: ruleSet },
              ':receipt-rule/Stack-Collector-DB17FC34',
            ]],
          },
        },
      },
    }]);
    expect(JSON.stringify(t.toJSON())).not.toContain('aws:Referer');
    // SES checks its permission when the rule is created: the rule waits for the policy.
    expect(rule.resource.DependsOn).toEqual(expect.arrayContaining([only(t, 'AWS::S3::BucketPolicy').id]));
  });

  test('names a given rule set in the grant', () => {
    // GIVEN
    const { stack, hostedZone } = exampleStack('us-east-1');
    // WHEN
    new TlsRptCollector(stack, 'Collector', {
      hostedZone,
      receiptRuleSet: ses.ReceiptRuleSet.fromReceiptRuleSetName(stack, 'Active', 'company-inbound'),
    });
    // THEN
    const t = Template.fromStack(stack);
    expect(sesStatements(t)[0].Condition.StringEquals['aws:SourceArn']).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ses:us-east-1:111111111111:receipt-rule-set/company-inbound:receipt-rule/Stack-Collector-DB17FC34']],
    });
    t.hasResourceProperties('AWS::SES::ReceiptRule', { RuleSetName: 'company-inbound', Rule: Match.objectLike({ Name: 'Stack-Collector-DB17FC34' }) });
  });
});

describe('events that fail every attempt', () => {
  test('go to an encrypted, TLS-only queue that keeps them 14 days: the processor\'s on-failure destination', () => {
    // GIVEN
    const { stack, collector, template } = collectorStack();
    // WHEN
    const t = template();
    // THEN
    const queue = only(t, 'AWS::SQS::Queue');
    expect(queue.resource).toEqual({
      Type: 'AWS::SQS::Queue',
      Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
      UpdateReplacePolicy: 'Delete',
      DeletionPolicy: 'Delete',
      Metadata: expect.anything(),
    });
    expect(stack.resolve(collector.failedEventQueue.queueArn)).toEqual({ 'Fn::GetAtt': [queue.id, 'Arn'] });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: Match.stringLikeRegexp('^CollectorProcessor') },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue.id, 'Arn'] } } },
    });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queue.id }],
      PolicyDocument: {
        Statement: [{
          Action: 'sqs:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Resource: { 'Fn::GetAtt': [queue.id, 'Arn'] },
        }],
        Version: '2012-10-17',
      },
    });
    // The processor may send to it (and to nothing else).
    const processorPolicy = Object.entries(t.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('CollectorProcessorServiceRole'))![1];
    expect(processorPolicy.Properties.PolicyDocument.Statement.filter((statement: { Action: unknown }) => JSON.stringify(statement.Action).includes('sqs:')))
      .toEqual([{ Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [queue.id, 'Arn'] } }]);
  });

  test('raise an alarm as soon as one is in the queue, notifying the alarm topic', () => {
    // GIVEN
    const { stack, hostedZone } = exampleStack('eu-west-1');
    const alarmTopic = sns.Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:eu-west-1:111111111111:alerts');
    // WHEN
    const collector = new TlsRptCollector(stack, 'Collector', { hostedZone, alarmTopic });
    // THEN
    const t = Template.fromStack(stack);
    const queue = only(t, 'AWS::SQS::Queue').id;
    const alarms = Object.entries(t.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(1);
    expect(stack.resolve(collector.failedEventAlarm.alarmArn)).toEqual({ 'Fn::GetAtt': [alarms[0][0], 'Arn'] });
    expect(alarms[0][1].Properties).toEqual({
      AlarmDescription: 'The TLS-RPT collector processor failed every attempt at an SES event: the message it names was not '
        + 'stored or counted. The event and the error are in the failed-events queue; the raw message is under raw/.',
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: ['arn:aws:sns:eu-west-1:111111111111:alerts'],
    });
  });

  test('raise an alarm without actions when there is no alarm topic', () => {
    const alarm = Object.values(collectorStack().template().findResources('AWS::CloudWatch::Alarm'))[0];
    expect(alarm.Properties.MetricName).toBe('ApproximateNumberOfMessagesVisible');
    expect(alarm.Properties.AlarmActions).toBeUndefined();
  });
});

describe('HTTPS reception, which nothing authenticates', () => {
  test('by default, its function may write only https- objects, under https/ (kept 90 days, uncounted) and rejected/', () => {
    // GIVEN
    const { template } = collectorStack('eu-west-1', { httpsReception: true });
    // WHEN
    const t = template();
    // THEN a POST can never take a mail report's key, nor reach the query table over reports/
    expect(putObjectPatterns(t, 'CollectorHttpsProcessor')).toEqual(['/https/*/https-*', '/rejected/*/https-*']);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.httpsHandler',
      Environment: { Variables: Match.objectLike({ TLSRPT_COUNT_HTTPS_REPORTS: 'false' }) },
    });
    const rules = only(t, 'AWS::S3::Bucket').resource.Properties.LifecycleConfiguration.Rules;
    expect(rules).toContainEqual({ Id: 'HttpsReports', Prefix: 'https/', ExpirationInDays: 90, Status: 'Enabled' });
  });

  test('its function has 2 reserved concurrent executions, or httpsReservedConcurrency', () => {
    collectorStack('eu-west-1', { httpsReception: true }).template()
      .hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.httpsHandler', ReservedConcurrentExecutions: 2 });
    collectorStack('eu-west-1', { httpsReception: true, httpsReservedConcurrency: 5 }).template()
      .hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.httpsHandler', ReservedConcurrentExecutions: 5 });
    // The SES processor has none: SES's own rate is its limit.
    collectorStack('eu-west-1', { httpsReception: true }).template()
      .hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', ReservedConcurrentExecutions: Match.absent() });
  });

  test('with countHttpsReports, its function writes https- objects beside mail reports, and a warning says why that is risky', () => {
    // GIVEN
    const { stack, template } = collectorStack('eu-west-1', { httpsReception: true, countHttpsReports: true });
    // WHEN
    const t = template();
    // THEN
    expect(putObjectPatterns(t, 'CollectorHttpsProcessor')).toEqual(['/reports/*/https-*', '/unconfigured/*/https-*', '/rejected/*/https-*']);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.httpsHandler',
      Environment: { Variables: Match.objectLike({ TLSRPT_COUNT_HTTPS_REPORTS: 'true' }) },
    });
    Annotations.fromStack(stack).hasWarning('/Stack/Collector', Match.stringLikeRegexp(
      '^Reports POSTed over HTTPS are counted \\(`countHttpsReports`\\): nothing authenticates them \\(RFC 8460 section 5.4\\).*\\[ack: cdk-mta-sts:countHttpsReports\\]$'));
    const body = JSON.stringify(only(t, 'AWS::CloudWatch::Dashboard').resource.Properties.DashboardBody);
    expect(body).toContain('and reports POSTed over HTTPS (`countHttpsReports`: they are not authenticated).');
  });

  test('does not warn by default, and the dashboard says only DKIM-signed reports count', () => {
    const { stack, template } = collectorStack('eu-west-1', { httpsReception: true });
    const body = JSON.stringify(only(template(), 'AWS::CloudWatch::Dashboard').resource.Properties.DashboardBody);
    expect(body).toContain('Only DKIM-signed reports for configured domains count.');
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  });

  test('warns that countHttpsReports and httpsReservedConcurrency do nothing without httpsReception', () => {
    const { stack } = collectorStack('eu-west-1', { countHttpsReports: true, httpsReservedConcurrency: 3 });
    Annotations.fromStack(stack).hasWarning('/Stack/Collector', Match.stringLikeRegexp(
      '^`countHttpsReports` and `httpsReservedConcurrency` do nothing without `httpsReception: true` \\[ack: cdk-mta-sts:httpsPropsWithoutReception\\]$'));
  });

  test.each([[0], [1.5], [-1]])('fails when httpsReservedConcurrency is %p', (httpsReservedConcurrency) => {
    expect(() => collectorStack('eu-west-1', { httpsReception: true, httpsReservedConcurrency })).toThrow(
      `Invalid TlsRptCollector props at Stack/Collector (1 problem):\n  - \`httpsReservedConcurrency\` must be a whole number, at least 1, got: ${httpsReservedConcurrency}`);
  });
});

test('the query table depends on its database through no deprecated aws-cdk-lib API', () => {
  // GIVEN deprecated APIs throw instead of printing "... is deprecated" (jsii's JSII_DEPRECATED)
  const before = process.env.JSII_DEPRECATED;
  process.env.JSII_DEPRECATED = 'fail';
  try {
    // WHEN
    const { template } = collectorStack('eu-west-1', { httpsReception: true, policyDomains: [{ domainName: 'example.com', mode: MtaStsMode.ENFORCE }] });
    // THEN
    const t = template();
    expect(only(t, 'AWS::Glue::Table').resource.DependsOn).toEqual([only(t, 'AWS::Glue::Database').id]);
  } finally {
    if (before === undefined) {
      delete process.env.JSII_DEPRECATED;
    } else {
      process.env.JSII_DEPRECATED = before;
    }
  }
});

test('fails when several props are invalid, listing every problem at once', () => {
  expect(() => collectorStack('eu-west-1', {
    receivingDomain: 'reports.example.net',
    localPart: 'a,b',
    rawMessageRetention: Duration.hours(36),
    failureAlarmThreshold: 0,
    databaseName: 'TLS-RPT',
  })).toThrow([
    'Invalid TlsRptCollector props at Stack/Collector (5 problems):',
    '  - `receivingDomain` must be a domain name below the hosted zone example.com, got: "reports.example.net"',
    '  - `localPart` must be a dot-atom local part without \',\' or \';\', got: "a,b"',
    '  - `rawMessageRetention` must be a whole number of days, at least 1, got: 1 day 12 hours',
    '  - `failureAlarmThreshold` must be at least 1, got: 0',
    '  - `databaseName` must be lower case letters, digits and underscores, got: "TLS-RPT"',
  ].join('\n'));
});

// cdk-nag 2 (minimum leg) is an aspect; cdk-nag 3 (latest leg) an aws-cdk-lib validation plugin.
const nag2Test = CDK_NAG_MAJOR === 2 ? test : test.skip;
const nag3Test = CDK_NAG_MAJOR === 3 ? test : test.skip;

nag3Test('cdk-nag 3 AwsSolutions, registered as a validation plugin, finds nothing unacknowledged in the collector (latest leg)', () => {
  // GIVEN
  const build = (withPlainBucket: boolean) => {
    const { app, stack } = collectorStack('us-east-1', {
      policyDomains: [{ domainName: 'example.com', mode: MtaStsMode.ENFORCE }],
      httpsReception: true,
    });
    if (withPlainBucket) {
      new s3.Bucket(stack, 'PlainBucket', { enforceSSL: true });
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Validations } = require('aws-cdk-lib');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    Validations.of(app).addPlugins(new (require('cdk-nag').AwsSolutionsChecks)(app, { verbose: true }));
    return app;
  };
  // THEN: synthesis passes; with a bucket of the test's own it fails, so the plugin did run
  expect(() => build(false).synth()).not.toThrow();
  expect(() => build(true).synth()).toThrow(/AwsSolutions-S1/);
});

nag2Test('cdk-nag AwsSolutions finds nothing unsuppressed in the collector', () => {
  // GIVEN
  const { app, stack, collector } = collectorStack('us-east-1', {
    policyDomains: [{ domainName: 'example.com', mode: MtaStsMode.ENFORCE }],
    httpsReception: true,
  });
  expect(collector).toBeDefined();
  // WHEN
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  app.synth();
  // THEN
  const annotations = Annotations.fromStack(stack);
  const nag = Match.stringLikeRegexp('AwsSolutions-.*');
  const messages = [...annotations.findError('*', nag), ...annotations.findWarning('*', nag)]
    .map(message => `${message.id}: ${message.entry.data}`);
  expect(messages).toEqual([]);
  // The suppressions the collector needed, each on its own resource.
  const suppressed = stack.node.findAll().filter(CfnResource.isCfnResource).flatMap(resource =>
    (resource.getMetadata('cdk_nag')?.rules_to_suppress ?? []).map((rule: { id: string }) => `${resource.node.path}: ${rule.id}`));
  expect(suppressed).toEqual([
    'Stack/Collector/Bucket/Resource: AwsSolutions-S1',
    'Stack/Collector/Processor/ServiceRole/Resource: AwsSolutions-IAM4',
    'Stack/Collector/Processor/ServiceRole/DefaultPolicy/Resource: AwsSolutions-IAM5',
    'Stack/Collector/Processor/Resource: AwsSolutions-L1',
    'Stack/Collector/FailedEvents/Resource: AwsSolutions-SQS3',
    'Stack/Collector/HttpsProcessor/ServiceRole/Resource: AwsSolutions-IAM4',
    'Stack/Collector/HttpsProcessor/ServiceRole/DefaultPolicy/Resource: AwsSolutions-IAM5',
    'Stack/Collector/HttpsProcessor/Resource: AwsSolutions-L1',
  ]);
});
