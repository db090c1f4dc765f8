import { Annotations, AspectPriority, Aspects, Duration, Names, RemovalPolicy, Size, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaDestinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sesActions from 'aws-cdk-lib/aws-ses-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { COLLECTOR_HTTPS_ENVIRONMENT, COLLECTOR_METRICS, collectorEnvironment, renderPolicyDomainsFile } from './core/collector-contract';
import { STORAGE_PREFIXES, normaliseDomainName } from './core/tlsrpt-report';
import { MtaStsMode } from './mode';
import { handlerBundleDir } from './private/bundles';
import { CollectorMetrics, createDashboard, createEnforceAlarm, createFailedEventsAlarm } from './private/collector/monitoring';
import { suppressCollectorFindings } from './private/collector/nag';
import { ProcessorCode } from './private/collector/processor-code';
import { createQueryTable, grantQueryTable } from './private/collector/query-table';
import { StoreRawMessage, receiptRuleArn, receiptRuleName } from './private/collector/receipt-rule';
import { SES_RECEIVING_REGIONS, inboundSmtpHost } from './private/collector/regions';
import { ReceiptRuleSetActivation, claimRuleSetActivation, ruleSetActivator } from './private/collector/rule-set-activation';
import { createCollectorBucket } from './private/collector/storage';
import { throwIfProblems } from './private/problems';

/**
 * A policy domain whose TLS-RPT reports the collector counts.
 */
export interface TlsRptPolicyDomain {
  /** The policy domain, as in the reports' `policy-domain` (e.g. `example.com`). */
  readonly domainName: string;
  /**
   * The domain's MTA-STS mode. Failed sessions to domains in `ENFORCE` raise the collector's
   * enforce alarm.
   *
   * @see https://www.rfc-editor.org/rfc/rfc8461#section-5
   */
  readonly mode: MtaStsMode;
}

/**
 * Properties of a TlsRptCollector.
 */
export interface TlsRptCollectorProps {
  /**
   * The public hosted zone in which the receiving subdomain's MX and DKIM records are written.
   * The zone's own MX records are not touched.
   */
  readonly hostedZone: route53.IHostedZone;

  /**
   * The subdomain that receives reports: a name below the zone, used only for this.
   *
   * @default - `tlsrpt.<zone name>`
   */
  readonly receivingDomain?: string;

  /**
   * Also receive reports POSTed over HTTPS (RFC 8460 §5.4) at a Lambda function URL, published
   * as `httpsRua`. No big sender is known to POST (they email); smaller MTAs may.
   *
   * @default false
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-5.4
   */
  readonly httpsReception?: boolean;

  /**
   * Count reports POSTed over HTTPS like DKIM-verified mail reports: in the metrics, the enforce
   * alarms and the query table (the ready-to-enforce query). RFC 8460 defines no authentication for
   * HTTPS reports, and the function URL is public, so anyone who finds it can add sessions and
   * failures. Turn it on only when a sender you rely on reports over HTTPS alone; a report sent
   * both ways is then counted twice.
   *
   * Either way, a POSTed report never displaces a mail report (its object name is its own) and a
   * date range that cannot be a real report's is rejected.
   *
   * @default false - POSTed reports are stored under `https/`, apart and uncounted
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-5.4
   */
  readonly countHttpsReports?: boolean;

  /**
   * Reserved concurrency of the HTTPS function: how many POSTs it handles at once, which caps what
   * anyone can make it do (and cost); further POSTs are answered 429 and senders retry later
   * (RFC 8460 §5.5). Reserving takes it from the account's unreserved concurrency, which Lambda
   * keeps at 100 or more: in an account whose concurrency quota is below 100 plus this number
   * (new accounts may have 10), the deployment fails until the quota is raised.
   *
   * @default 2
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-5.5
   */
  readonly httpsReservedConcurrency?: number;

  /**
   * The local part of the receiving address.
   *
   * @default 'reports'
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-3
   */
  readonly localPart?: string;

  /**
   * Policy domains whose reports are counted. More can be added with `addPolicyDomain`
   * (MtaSts and MtaStsDomains do when given the collector). Reports for other domains are
   * stored apart, under `unconfigured/`, and not counted.
   *
   * @default - none until `addPolicyDomain` is called
   */
  readonly policyDomains?: TlsRptPolicyDomain[];

  /**
   * The active SES receipt rule set of the account and region, to add the collector's rule to.
   * SES allows one active rule set per region: pass it when the account already receives mail.
   *
   * @default - a new rule set, activated by a custom resource that fails the deployment when
   * another rule set is active or becomes active while it activates (another deployment at the
   * same time), and deactivates only its own on delete. One collector per account and region can
   * do this; give the others its `receiptRuleSet`, and deploy them one at a time.
   */
  readonly receiptRuleSet?: ses.IReceiptRuleSet;

  /**
   * Skip the check that the stack's region is one where SES receives email (for a region SES
   * added after this library's list). The check is skipped anyway when the region is a token.
   *
   * @default false
   */
  readonly skipRegionCheck?: boolean;

  /**
   * How long raw messages are kept under `raw/`. Whole days.
   *
   * @default Duration.days(30)
   */
  readonly rawMessageRetention?: Duration;

  /**
   * How long normalised reports are kept under `reports/`. Whole days.
   *
   * @default - kept until deleted
   */
  readonly reportRetention?: Duration;

  /**
   * How long quarantined (DKIM not PASS), rejected and unconfigured-domain objects are kept. Whole days.
   *
   * @default Duration.days(90)
   */
  readonly setAsideRetention?: Duration;

  /**
   * What happens to the bucket when it leaves the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Messages larger than this are rejected unread (kept under `rejected/`).
   *
   * @default Size.mebibytes(10)
   */
  readonly maxMessageSize?: Size;

  /**
   * Decompression stops at this size; larger reports are rejected as possible bombs.
   *
   * @default Size.mebibytes(16)
   */
  readonly maxReportSize?: Size;

  /**
   * The CloudWatch namespace of the report metrics.
   *
   * @default 'TlsRpt'
   */
  readonly metricNamespace?: string;

  /**
   * Where the collector's alarms notify (the enforce alarm and the failed-events alarm).
   *
   * @default - alarms without actions
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Failed sessions reported within an hour, to all domains in enforce mode together, that raise
   * the enforce alarm.
   *
   * @default 1
   */
  readonly failureAlarmThreshold?: number;

  /**
   * The Glue database of the query table (lower case letters, digits and underscores).
   *
   * @default - `tlsrpt_` and a name unique to this construct
   */
  readonly databaseName?: string;

  /**
   * Retention of the processing function's logs (which also carry the embedded metrics).
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Receives TLS-RPT reports (RFC 8460) by email with Amazon SES, stores each valid report once
 * as normalised JSON, turns it into CloudWatch metrics per policy domain, and makes it
 * queryable with Athena.
 *
 * Creates on a dedicated subdomain of the zone (`tlsrpt.<zone>`): the SES domain identity with
 * its DKIM records, the MX record to SES's inbound endpoint of the stack's region, and a receipt
 * rule that stores the raw message in a private bucket and then invokes the processing
 * function. Put `rua` first in the TLS-RPT record (some reporters only use the first URI).
 * SES events that fail every attempt go to a queue with an alarm (`failedEventQueue`).
 *
 * Only one SES receipt rule set can be active per account and region: deploy collectors of one
 * account and region one at a time, and let one create the rule set (`receiptRuleSet`).
 *
 * @example
 * declare const hostedZone: route53.IHostedZone;
 * const collector = new TlsRptCollector(this, 'TlsRptCollector', {
 *   hostedZone,
 *   policyDomains: [{ domainName: 'example.com', mode: MtaStsMode.TESTING }],
 * });
 * // collector.rua === 'mailto:reports@tlsrpt.example.com'
 *
 * @see https://www.rfc-editor.org/rfc/rfc8460#section-5.3
 */
export class TlsRptCollector extends Construct {
  /** The `mailto:` URI of the receiving address: put it FIRST in the `rua` list. */
  public readonly rua: string;
  /** The receiving address, `<localPart>@<receivingDomain>`. */
  public readonly address: string;
  /** The subdomain that receives reports. */
  public readonly receivingDomain: string;
  /** The CloudWatch namespace of the report metrics. */
  public readonly metricNamespace: string;
  /** The Glue database of the query table. */
  public readonly databaseName: string;
  /** The Glue (Athena) table of the normalised reports. */
  public readonly tableName: string;

  /**
   * The `https:` URI of the function URL receiving POSTed reports (an unresolved token), when
   * `httpsReception` is on. Put it after `rua`.
   */
  public readonly httpsRua?: string;
  /** The function behind `httpsRua`, when `httpsReception` is on. */
  public readonly httpsProcessor?: lambda.IFunction;

  /** The bucket: `raw/`, `reports/`, `unconfigured/`, `quarantine/`, `rejected/`, and `https/` with HTTPS reception. */
  public readonly bucket: s3.IBucket;
  /** The processing function. */
  public readonly processor: lambda.IFunction;
  /**
   * The processor's on-failure destination: SES events whose every attempt failed (the event and
   * the error, kept 14 days). Encrypted (SQS-managed keys), TLS only.
   */
  public readonly failedEventQueue: sqs.IQueue;
  /** The alarm on `failedEventQueue`: raised by one visible message, notifying `alarmTopic` if given. */
  public readonly failedEventAlarm: cloudwatch.IAlarm;
  /** The SES domain identity of the receiving subdomain. */
  public readonly emailIdentity: ses.EmailIdentity;
  /** The MX record of the receiving subdomain. */
  public readonly mxRecord: route53.MxRecord;
  /** The receipt rule set holding the collector's rule (given or created). */
  public readonly receiptRuleSet: ses.IReceiptRuleSet;
  /** The receipt rule: store the raw message in S3, then invoke the processor. */
  public readonly receiptRule: ses.ReceiptRule;
  /**
   * The dashboard: messages; sessions and failures of all domains (by mode, the most failures by
   * domain and result type, and the domains in enforce mode with failed sessions); and a row per
   * policy domain while there are at most 25.
   */
  public readonly dashboard: cloudwatch.Dashboard;
  /** The Glue database of the query table. */
  public readonly database: glue.CfnDatabase;
  /** The Glue table over `reports/`, with partition projection. */
  public readonly table: glue.CfnTable;

  private readonly domains = new Map<string, MtaStsMode>();
  private readonly metrics: CollectorMetrics;
  private readonly code: ProcessorCode;
  private enforceFailureAlarm?: cloudwatch.Alarm;
  private readonly alarmTopic?: sns.ITopic;
  private readonly failureAlarmThreshold: number;

  /**
   * @param scope the parent construct
   * @param id the construct id
   * @param props where to receive reports and how long to keep them
   * @throws Error listing every problem when a prop is invalid
   */
  constructor(scope: Construct, id: string, props: TlsRptCollectorProps) {
    super(scope, id);
    const problems: string[] = [];
    const stack = Stack.of(this);
    const zoneName = props.hostedZone.zoneName.replace(/\.$/, '');

    if (!props.skipRegionCheck && !Token.isUnresolved(stack.region) && !SES_RECEIVING_REGIONS.includes(stack.region)) {
      problems.push(`\`region\` of the stack must be one where Amazon SES receives email (${SES_RECEIVING_REGIONS.join(', ')}; `
        + `set \`skipRegionCheck: true\` if SES has added yours since), got: "${stack.region}"`);
    }
    this.receivingDomain = props.receivingDomain ?? `tlsrpt.${zoneName}`;
    if (!Token.isUnresolved(this.receivingDomain)) {
      const normalised = normaliseDomainName(this.receivingDomain);
      if (normalised === null || (!Token.isUnresolved(zoneName) && !normalised.endsWith(`.${zoneName.toLowerCase()}`))) {
        problems.push(`\`receivingDomain\` must be a domain name below the hosted zone ${zoneName}, got: "${this.receivingDomain}"`);
      } else {
        this.receivingDomain = normalised;
      }
    }
    const localPart = props.localPart ?? 'reports';
    if (!Token.isUnresolved(localPart) && !/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(localPart)) {
      problems.push(`\`localPart\` must be a dot-atom local part without ',' or ';', got: "${localPart}"`);
    }
    const rawMessages = wholeDays('rawMessageRetention', props.rawMessageRetention ?? Duration.days(30), problems);
    const reports = props.reportRetention ? wholeDays('reportRetention', props.reportRetention, problems) : undefined;
    const setAside = wholeDays('setAsideRetention', props.setAsideRetention ?? Duration.days(90), problems);
    const maxMessageBytes = positiveBytes('maxMessageSize', props.maxMessageSize ?? Size.mebibytes(10), problems);
    const maxReportBytes = positiveBytes('maxReportSize', props.maxReportSize ?? Size.mebibytes(16), problems);
    const httpsReservedConcurrency = props.httpsReservedConcurrency ?? 2;
    if (!Token.isUnresolved(httpsReservedConcurrency) && !(Number.isInteger(httpsReservedConcurrency) && httpsReservedConcurrency >= 1)) {
      problems.push(`\`httpsReservedConcurrency\` must be a whole number, at least 1, got: ${httpsReservedConcurrency}`);
    }
    this.failureAlarmThreshold = props.failureAlarmThreshold ?? 1;
    if (!Token.isUnresolved(this.failureAlarmThreshold) && !(this.failureAlarmThreshold >= 1)) {
      problems.push(`\`failureAlarmThreshold\` must be at least 1, got: ${this.failureAlarmThreshold}`);
    }
    this.metricNamespace = props.metricNamespace ?? 'TlsRpt';
    this.databaseName = props.databaseName
      ?? `tlsrpt_${Names.uniqueResourceName(this, { maxLength: 48, separator: '_' }).toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
    if (!Token.isUnresolved(this.databaseName) && !/^[a-z0-9_]{1,255}$/.test(this.databaseName)) {
      problems.push(`\`databaseName\` must be lower case letters, digits and underscores, got: "${this.databaseName}"`);
    }
    const activating = props.receiptRuleSet ? undefined : ruleSetActivator(this);
    if (activating !== undefined) {
      problems.push(`\`receiptRuleSet\` must be given: ${activating} already creates and activates the receipt rule set of this account `
        + 'and region, and only one can be active; pass its receiptRuleSet, got: none');
    }
    throwIfProblems('TlsRptCollector', problems, this);
    const countHttpsReports = props.countHttpsReports ?? false;
    if (!props.httpsReception && (props.countHttpsReports !== undefined || props.httpsReservedConcurrency !== undefined)) {
      Annotations.of(this).addWarningV2('cdk-mta-sts:httpsPropsWithoutReception',
        '`countHttpsReports` and `httpsReservedConcurrency` do nothing without `httpsReception: true`');
    }
    if (props.httpsReception && countHttpsReports) {
      Annotations.of(this).addWarningV2('cdk-mta-sts:countHttpsReports',
        'Reports POSTed over HTTPS are counted (`countHttpsReports`): nothing authenticates them (RFC 8460 section 5.4), '
        + 'so anyone who finds the function URL can add sessions and failures to the metrics, the alarms and the ready-to-enforce query.');
    }

    this.address = `${localPart}@${this.receivingDomain}`;
    this.rua = `mailto:${this.address}`;
    this.tableName = 'reports';
    this.alarmTopic = props.alarmTopic;

    // Storage.
    const bucket = createCollectorBucket(this, props.removalPolicy ?? RemovalPolicy.RETAIN, {
      rawMessages, reports, setAside, uncountedHttpsReports: props.httpsReception ? setAside : undefined,
    });
    this.bucket = bucket;

    // Processing. The configured domains reach both functions in their code (COLLECTOR_POLICY_DOMAINS_FILE),
    // made once every domain is added: when the app is synthesized (aspects run first).
    const environment = collectorEnvironment({
      bucket: bucket.bucketName,
      metricNamespace: this.metricNamespace,
      maxMessageBytes: String(maxMessageBytes),
      maxReportBytes: String(maxReportBytes),
    });
    const code = new ProcessorCode(handlerBundleDir('tlsrpt-collector/index'));
    this.code = code;
    Aspects.of(this).add({
      visit: node => {
        if (node === this) {
          code.seal(this, 'ProcessorCode', renderPolicyDomainsFile(this.domains));
        }
      },
    }, { priority: AspectPriority.MUTATING });
    const logGroupNames: string[] = [];
    const createProcessor = (
      functionId: string, handler: string, description: string, writes: string[], more: Partial<lambda.FunctionProps> = {},
    ): lambda.Function => {
      const logGroup = new logs.LogGroup(this, `${functionId}Logs`, {
        retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      if (writes.some(pattern => pattern.startsWith(STORAGE_PREFIXES.reports))) {
        // Its EMF lines carry counted reports: the dashboard's table of domains in enforce mode reads them.
        logGroupNames.push(logGroup.logGroupName);
      }
      const fn = new lambda.Function(this, functionId, {
        ...more,
        description,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        handler,
        code,
        // Room for a 10 MiB message, its decoded attachment and a 16 MiB report.
        memorySize: 512,
        timeout: Duration.minutes(1),
        logGroup,
        environment: { ...environment, ...more.environment },
      });
      fn.addToRolePolicy(new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: writes.map(pattern => bucket.arnForObjects(pattern)),
      }));
      return fn;
    };
    const processorWrites = [STORAGE_PREFIXES.reports, STORAGE_PREFIXES.unconfigured, STORAGE_PREFIXES.quarantine, STORAGE_PREFIXES.rejected]
      .map(prefix => `${prefix}*`);
    const processor = createProcessor('Processor', 'index.handler',
      'Stores TLS-RPT reports received by SES and emits their metrics (cdk-mta-sts TlsRptCollector)', processorWrites);
    // Async invocations from SES: storage errors are retried; write-once keys make retries harmless.
    // An event that fails every attempt goes to a queue, with an alarm, instead of vanishing.
    const failedEventQueue = new sqs.Queue(this, 'FailedEvents', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    processor.configureAsyncInvoke({ retryAttempts: 2, onFailure: new lambdaDestinations.SqsDestination(failedEventQueue) });
    this.failedEventQueue = failedEventQueue;
    this.failedEventAlarm = createFailedEventsAlarm(this, 'FailedEventsAlarm', failedEventQueue, props.alarmTopic);
    // The raw messages it reads; and the objects it writes, so that a write whose answer was lost
    // is recognised by reading back its own object (HEAD) and counted once.
    processor.addToRolePolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [`${STORAGE_PREFIXES.raw}*`, ...processorWrites].map(pattern => bucket.arnForObjects(pattern)),
    }));
    // Without ListBucket, S3 answers a missing raw message with 403, which the processor must treat as a
    // storage error (retried, then dropped); with it, 404, which it keeps under rejected/ with the reason.
    processor.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    this.processor = processor;

    if (props.httpsReception) {
      // Only keys named `https-...` (the HTTPS key space): this function can never write a mail report's key.
      const httpsProcessor = createProcessor('HttpsProcessor', 'index.httpsHandler',
        'Stores TLS-RPT reports POSTed over HTTPS (RFC 8460 section 5.4) (cdk-mta-sts TlsRptCollector)',
        httpsWrites(countHttpsReports), {
          reservedConcurrentExecutions: httpsReservedConcurrency,
          environment: { [COLLECTOR_HTTPS_ENVIRONMENT.countReports]: String(countHttpsReports) },
        });
      // A write whose answer was lost is recognised by reading back its own object (HEAD): the same keys only.
      httpsProcessor.addToRolePolicy(new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: httpsWrites(countHttpsReports).map(pattern => bucket.arnForObjects(pattern)),
      }));
      // RFC 8460 §5.4: reporters POST without credentials; counted only with countHttpsReports.
      const url = httpsProcessor.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
      this.httpsProcessor = httpsProcessor;
      this.httpsRua = url.url;
    }

    // Reception.
    this.emailIdentity = new ses.EmailIdentity(this, 'Identity', {
      identity: new SubdomainIdentity(this.receivingDomain, props.hostedZone),
    });
    this.mxRecord = new route53.MxRecord(this, 'MxRecord', {
      zone: props.hostedZone,
      recordName: `${this.receivingDomain}.`,
      values: [{ priority: 10, hostName: inboundSmtpHost(stack.region) }],
    });
    this.receiptRuleSet = props.receiptRuleSet ?? new ses.ReceiptRuleSet(this, 'RuleSet');
    const ruleName = receiptRuleName(this);
    this.receiptRule = new ses.ReceiptRule(this, 'ReceiptRule', {
      ruleSet: this.receiptRuleSet,
      receiptRuleName: ruleName,
      recipients: [this.address],
      // Spam and virus verdicts are recorded with quarantined and rejected messages.
      scanEnabled: true,
      actions: [
        new StoreRawMessage(bucket, STORAGE_PREFIXES.raw, receiptRuleArn(this, this.receiptRuleSet.receiptRuleSetName, ruleName)),
        new sesActions.Lambda({ function: processor, invocationType: sesActions.LambdaInvocationType.EVENT }),
      ],
    });
    // SES checks that it may write to the bucket when the rule is created.
    this.receiptRule.node.addDependency(bucket.policy!);
    if (!props.receiptRuleSet) {
      claimRuleSetActivation(this);
      const activation = new ReceiptRuleSetActivation(this, 'RuleSetActivation', this.receiptRuleSet, this.node.path);
      // Mail is accepted only once the rule (and the identity) exist.
      activation.node.addDependency(this.receiptRule, this.emailIdentity, this.mxRecord);
    }

    // Queries.
    const query = createQueryTable(this, bucket, this.databaseName, this.tableName, () => this.policyDomainNames);
    this.database = query.database;
    this.table = query.table;

    // Monitoring.
    this.metrics = new CollectorMetrics(this.metricNamespace);
    this.dashboard = createDashboard(this, this.metrics, {
      databaseName: this.databaseName,
      tableName: this.tableName,
      countsHttpsReports: Boolean(props.httpsReception) && countHttpsReports,
      logGroupNames,
      domains: () => this.policyDomainNames,
    });

    for (const domain of props.policyDomains ?? []) {
      this.addPolicyDomain(domain.domainName, domain.mode);
    }
    suppressCollectorFindings(this, bucket.node.defaultChild as s3.CfnBucket, httpsWrites(countHttpsReports));
  }

  /** The configured policy domains, sorted. */
  public get policyDomainNames(): string[] {
    return [...this.domains.keys()].sort();
  }

  /**
   * Counts reports for a policy domain: its sessions become metrics (`metricSuccessfulSessions`,
   * `metricFailedSessions`) and dashboard widgets, and in `ENFORCE` mode its failed sessions raise
   * the enforce alarm (one alarm for all domains in enforce mode). Adding a domain again with the
   * same mode does nothing; with another mode it is an error. A collector holds thousands of
   * domains: they reach its functions in their code, as a file, not in an environment variable.
   *
   * @param domainName the policy domain (a literal name: it names metrics and partitions)
   * @param mode the domain's MTA-STS mode
   * @throws Error when the name is not a domain name or a token, was added with another mode, or
   * is added once the app is being synthesized (the functions' code holds the list)
   */
  public addPolicyDomain(domainName: string, mode: MtaStsMode): void {
    const normalised = this.checkedDomainName(domainName);
    const existing = this.domains.get(normalised);
    if (existing !== undefined) {
      if (existing !== mode) {
        throw new Error(`\`domainName\` ${normalised} was already added to the TLS-RPT collector with mode ${existing}, got: mode ${mode}`);
      }
      return;
    }
    if (this.code.sealed) {
      throw new Error('`domainName` must be added before the app is synthesized (the collector\'s functions carry the domain list in '
        + `their code, made at synthesis), got: "${normalised}"`);
    }
    this.domains.set(normalised, mode);
    if (mode === MtaStsMode.ENFORCE && !this.enforceFailureAlarm) {
      this.enforceFailureAlarm = createEnforceAlarm(
        this, 'EnforceFailureAlarm', this.metrics, this.failureAlarmThreshold, this.dashboard.dashboardName, this.alarmTopic);
    }
  }

  /**
   * The alarm that watches the domain's failed sessions, when it was added in `ENFORCE` mode: one
   * alarm for all domains in enforce mode (on `FailedSessions` by `Mode`), raised by
   * `failureAlarmThreshold` failed sessions in an hour to any of them; the dashboard's table
   * "Domains in enforce mode with failed sessions" names them. For an alarm of one domain, use
   * `metricFailedSessions(domainName).createAlarm(...)`.
   *
   * @param domainName the policy domain
   * @returns the enforce alarm, or undefined when the domain was not added in enforce mode
   */
  public enforceAlarm(domainName: string): cloudwatch.IAlarm | undefined {
    const normalised = normaliseDomainName(domainName);
    return normalised !== null && this.domains.get(normalised) === MtaStsMode.ENFORCE ? this.enforceFailureAlarm : undefined;
  }

  /**
   * The sessions that reporters counted as successful for a policy domain: the reports'
   * `total-successful-session-count`, summed. Data exists only for domains the collector was given
   * (`addPolicyDomain`), from DKIM-verified mail reports (and HTTPS reports with `countHttpsReports`).
   *
   * @param domainName the policy domain (normalised: lower case, no trailing dot)
   * @param props options of the metric
   * @default - SUM over 5 minutes
   * @throws Error when the name is not a literal domain name
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-4.4
   */
  public metricSuccessfulSessions(domainName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metrics.byDomain(COLLECTOR_METRICS.successfulSessions, this.checkedDomainName(domainName), props);
  }

  /**
   * The sessions that reporters counted as failed for a policy domain: the reports'
   * `total-failure-session-count`, summed. Data exists only for domains the collector was given
   * (`addPolicyDomain`), from DKIM-verified mail reports (and HTTPS reports with `countHttpsReports`).
   *
   * @param domainName the policy domain (normalised: lower case, no trailing dot)
   * @param props options of the metric
   * @default - SUM over 5 minutes
   * @throws Error when the name is not a literal domain name
   * @see https://www.rfc-editor.org/rfc/rfc8460#section-4.4
   */
  public metricFailedSessions(domainName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metrics.byDomain(COLLECTOR_METRICS.failedSessions, this.checkedDomainName(domainName), props);
  }

  /**
   * Grants what a principal needs, on the collector's side, to query the stored reports with
   * Athena (which reads the catalog and the data with the caller's credentials):
   * `glue:GetDatabase`, `glue:GetTable` and `glue:GetPartitions` on the Data Catalog, the
   * database and the table; `s3:GetObject` on `reports/*`, `s3:ListBucket` limited to the prefix
   * `reports/`, and `s3:GetBucketLocation` on the bucket.
   *
   * Running a query also needs Athena permissions on the workgroup the principal uses
   * (`athena:StartQueryExecution`, `athena:GetQueryExecution`, `athena:GetQueryResults`) and write
   * access to that workgroup's query result location: the collector owns neither, so grant them
   * where the workgroup is defined.
   *
   * @param grantee the principal
   * @returns the grant
   * @see https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html
   * @see https://docs.aws.amazon.com/athena/latest/ug/s3-permissions.html
   * @see https://docs.aws.amazon.com/athena/latest/ug/workgroups-iam-policy.html
   */
  public grantQueryReports(grantee: iam.IGrantable): iam.Grant {
    return grantQueryTable(grantee, this, this.bucket, this.databaseName, this.tableName);
  }

  /** The normalised name, or an Error for a token or a name that is not a domain name. */
  private checkedDomainName(domainName: string): string {
    const normalised = Token.isUnresolved(domainName) ? null : normaliseDomainName(domainName);
    if (normalised === null) {
      throw new Error(`\`domainName\` must be a literal domain name (it names the collector's metrics and partitions), got: ${
        Token.isUnresolved(domainName) ? 'an unresolved token' : `"${domainName}"`}`);
    }
    return normalised;
  }
}

/** An SES identity for a subdomain whose DKIM records go into the parent zone. */
class SubdomainIdentity extends ses.Identity {
  public readonly hostedZone: route53.IPublicHostedZone;
  constructor(public readonly value: string, zone: route53.IHostedZone) {
    super();
    // EasyDkim only reads the zone id; a public zone is required to receive mail anyway.
    this.hostedZone = zone as route53.IPublicHostedZone;
  }
}

/**
 * What the HTTPS function may write: `https-...` objects only, under `https/` (uncounted), or under
 * `reports/` and `unconfigured/` when HTTPS reports count; and notes of rejected POSTs.
 */
function httpsWrites(countReports: boolean): string[] {
  const own = (prefix: string) => `${prefix}*/https-*`;
  return countReports
    ? [own(STORAGE_PREFIXES.reports), own(STORAGE_PREFIXES.unconfigured), own(STORAGE_PREFIXES.rejected)]
    : [own(STORAGE_PREFIXES.https), own(STORAGE_PREFIXES.rejected)];
}

function wholeDays(prop: string, duration: Duration, problems: string[]): Duration {
  if (duration.isUnresolved()) {
    return duration;
  }
  const days = duration.toDays({ integral: false });
  if (!Number.isInteger(days) || days < 1) {
    problems.push(`\`${prop}\` must be a whole number of days, at least 1, got: ${duration.toHumanString()}`);
  }
  return duration;
}

function positiveBytes(prop: string, size: Size, problems: string[]): number {
  if (size.isUnresolved()) {
    problems.push(`\`${prop}\` must be a literal size, got: a token`);
    return 0;
  }
  const bytes = size.toBytes();
  if (!(bytes >= 1024)) {
    problems.push(`\`${prop}\` must be at least 1 KiB, got: ${bytes} bytes`);
  }
  return bytes;
}
