import { App, Aspects, CfnResource, Duration, Lazy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { MtaStsMode, TlsRptCollector, TlsRptCollectorProps } from '../src';
import { exampleStack } from './fixtures';
import { CDK_NAG_MAJOR } from './leg';

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
      'Invalid TlsRptCollector (1 problem):\n  - `receiptRuleSet` must be given: Stack/Collector already creates and activates the receipt rule set '
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
      'Invalid TlsRptCollector (1 problem):\n  - `region` of the stack must be one where Amazon SES receives email (us-east-1, us-east-2, us-west-2, '
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

  test('the processor runs the bundled handler with its limits and the domains added after construction', () => {
    // GIVEN
    const { collector, template } = collectorStack('eu-west-1', {
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
          TLSRPT_POLICY_DOMAINS: 'eu.example.com,example.com',
          TLSRPT_METRIC_NAMESPACE: 'Mail/TlsRpt',
          TLSRPT_MAX_MESSAGE_BYTES: '10485760',
          TLSRPT_MAX_REPORT_BYTES: '16777216',
        },
      },
    });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2 });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    expect(collector.policyDomainNames).toEqual(['eu.example.com', 'example.com']);
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
  test('a domain in enforce mode gets an alarm on its failed sessions, notifying the given topic', () => {
    // GIVEN
    const { stack, collector, template } = collectorStack();
    const topic = sns.Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:eu-west-1:111111111111:alerts');
    const { collector: withTopic, template: templateWithTopic } = (() => {
      const s = exampleStack('eu-west-1');
      const c = new TlsRptCollector(s.stack, 'Collector', { hostedZone: s.hostedZone, alarmTopic: sns.Topic.fromTopicArn(s.stack, 'Topic', topic.topicArn) });
      return { collector: c, template: () => Template.fromStack(s.stack) };
    })();
    // WHEN
    collector.addPolicyDomain('example.com', MtaStsMode.TESTING);
    collector.addPolicyDomain('eu.example.com', MtaStsMode.ENFORCE);
    withTopic.addPolicyDomain('example.com', MtaStsMode.ENFORCE);
    // THEN
    const t = template();
    t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { Namespace: 'TlsRpt' }, 1);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'TlsRpt',
      MetricName: 'FailedSessions',
      Dimensions: [{ Name: 'PolicyDomain', Value: 'eu.example.com' }],
      Statistic: 'Sum',
      Period: 3600,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(collector.enforceAlarm('eu.example.com')).toBeDefined();
    expect(collector.enforceAlarm('example.com')).toBeUndefined();
    templateWithTopic().hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'TlsRpt', AlarmActions: ['arn:aws:sns:eu-west-1:111111111111:alerts'] });
  });

  test('the dashboard shows every domain and the query table enumerates them, including domains added later', () => {
    const { collector, template } = collectorStack();
    collector.addPolicyDomain('example.com', MtaStsMode.TESTING);
    collector.addPolicyDomain('example.org', MtaStsMode.ENFORCE);
    const t = template();
    const body = JSON.stringify(Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody);
    expect(body).toContain('example.com: sessions');
    expect(body).toContain('example.org: sts-* and certificate-* failures');
    expect(body).toContain('SEARCH(\'{TlsRpt,PolicyDomain,ResultType} PolicyDomain=\\\\\\"example.org\\\\\\" (sts OR certificate)\', \'Sum\', 86400)');
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

  test('without domains the query table needs the domain in each query (injected projection)', () => {
    collectorStack().template().hasResourceProperties('AWS::Glue::Table', {
      TableInput: { Parameters: Match.objectLike({ 'projection.policy_domain.type': 'injected', 'projection.policy_domain.values': Match.absent() }) },
    });
  });

  test('adding a domain again with the same mode changes nothing', () => {
    const { collector, template } = collectorStack();
    collector.addPolicyDomain('example.com', MtaStsMode.ENFORCE);
    collector.addPolicyDomain('EXAMPLE.com.', MtaStsMode.ENFORCE);
    template().resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { Namespace: 'TlsRpt' }, 1);
  });

  test('fails when a domain is added again with another mode', () => {
    const { collector } = collectorStack();
    collector.addPolicyDomain('example.com', MtaStsMode.TESTING);
    expect(() => collector.addPolicyDomain('example.com', MtaStsMode.ENFORCE))
      .toThrow('`domainName` example.com was already added to the TLS-RPT collector with mode testing, got: mode enforce');
  });

  test('fails when the configured domains outgrow the processor environment', () => {
    const { collector } = collectorStack();
    // 17 characters and a comma each: 194 domains take 3,491 characters, the 195th would make 3,509.
    const add = (n: number) => collector.addPolicyDomain(`d${String(n).padStart(4, '0')}.example.com`, MtaStsMode.TESTING);
    for (let n = 0; n < 194; n++) {
      add(n);
    }
    expect(() => add(194)).toThrow(/^`domainName` d0194.example.com does not fit: the configured domains would take 3509 characters .* got: 195 domains$/);
  });

  test('fails when a domain name is not a literal domain name', () => {
    const { collector } = collectorStack();
    expect(() => collector.addPolicyDomain('not a domain', MtaStsMode.TESTING))
      .toThrow('`domainName` must be a literal domain name (it names the collector\'s metrics, alarms and partitions), got: "not a domain"');
    expect(() => collector.addPolicyDomain(Lazy.string({ produce: () => 'example.com' }), MtaStsMode.TESTING)).toThrow(/got: an unresolved token/);
  });
});

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
      `Invalid TlsRptCollector (1 problem):\n  - \`httpsReservedConcurrency\` must be a whole number, at least 1, got: ${httpsReservedConcurrency}`);
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
    'Invalid TlsRptCollector (5 problems):',
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
