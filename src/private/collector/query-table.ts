import { Aws, Lazy, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { STORAGE_PREFIXES } from '../../core/tlsrpt-report';

/** The columns of a stored report (src/core/tlsrpt-report.ts PolicyReport plus the handler's fields). */
const COLUMNS: glue.CfnTable.ColumnProperty[] = [
  ['report_id', 'string'],
  ['organization_name', 'string'],
  ['contact_info', 'string'],
  ['start_datetime', 'string'],
  ['end_datetime', 'string'],
  ['policy_type', 'string'],
  ['policy_string', 'array<string>'],
  ['mx_host', 'array<string>'],
  ['policy_mode', 'string'],
  ['policy_max_age', 'bigint'],
  ['policy_content_id', 'string'],
  ['total_successful_session_count', 'bigint'],
  ['total_failure_session_count', 'bigint'],
  ['failure_details', 'array<struct<result_type:string,sending_mta_ip:string,receiving_mx_hostname:string,receiving_mx_helo:string,'
    + 'receiving_ip:string,failed_session_count:bigint,additional_information:string,failure_reason_code:string>>'],
  ['notes', 'array<string>'],
  ['message_id', 'string'],
  ['received_date', 'string'],
  ['submitter', 'string'],
].map(([name, type]) => ({ name, type }));

export interface QueryTable {
  readonly database: glue.CfnDatabase;
  readonly table: glue.CfnTable;
}

/**
 * A Glue database and table over `reports/` (JSON lines), partitioned by `policy_domain` and
 * `report_date` with partition projection: no crawler, no partitions to add; the domain
 * enumeration follows the configured domains (lazily, so domains added later are included).
 */
export function createQueryTable(
  scope: Construct, bucket: s3.IBucket, databaseName: string, tableName: string, domains: () => string[],
): QueryTable {
  const database = new glue.CfnDatabase(scope, 'Database', {
    catalogId: Aws.ACCOUNT_ID,
    databaseInput: { name: databaseName, description: 'TLS-RPT reports (RFC 8460) stored by cdk-mta-sts TlsRptCollector' },
  });
  const location = `s3://${bucket.bucketName}/${STORAGE_PREFIXES.reports}`;
  const table = new glue.CfnTable(scope, 'Table', {
    catalogId: Aws.ACCOUNT_ID,
    databaseName,
    tableInput: {
      name: tableName,
      description: 'One row per report and policy domain',
      tableType: 'EXTERNAL_TABLE',
      partitionKeys: [{ name: 'policy_domain', type: 'string' }, { name: 'report_date', type: 'string' }],
      parameters: {
        'classification': 'json',
        'projection.enabled': 'true',
        // An enum of the configured domains; with none yet, queries must name the domain (injected).
        'projection.policy_domain.type': Lazy.string({ produce: () => domains().length > 0 ? 'enum' : 'injected' }),
        'projection.policy_domain.values': Lazy.string({ produce: () => domains().length > 0 ? domains().join(',') : undefined }),
        'projection.report_date.type': 'date',
        'projection.report_date.format': 'yyyy-MM-dd',
        'projection.report_date.range': 'NOW-3YEARS,NOW',
        'projection.report_date.interval': '1',
        'projection.report_date.interval.unit': 'DAYS',
        'storage.location.template': `${location}policy_domain=\${policy_domain}/report_date=\${report_date}/`,
      },
      storageDescriptor: {
        location,
        columns: COLUMNS,
        inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
        outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
        serdeInfo: {
          serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
          parameters: { 'ignore.malformed.json': 'true' },
        },
      },
    },
  });
  // A construct dependency: CfnResource#addDependency is deprecated in later aws-cdk-lib versions.
  table.node.addDependency(database);
  return { database, table };
}

/** The Glue actions a query of the table needs (Athena calls them with the caller's credentials). */
export const QUERY_GLUE_ACTIONS = ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'];

/**
 * What a principal needs to query the table with Athena, on the collector's side: the Glue
 * catalog, database and table (read), and the stored reports (`reports/` objects, listing under
 * `reports/`, the bucket's location). Athena reads both with the caller's credentials.
 */
export function grantQueryTable(
  grantee: iam.IGrantable, scope: Construct, bucket: s3.IBucket, databaseName: string, tableName: string,
): iam.Grant {
  const stack = Stack.of(scope);
  const glueArn = (resource: string, resourceName?: string) => stack.formatArn({ service: 'glue', resource, resourceName });
  const prefix = STORAGE_PREFIXES.reports;
  return iam.Grant.addToPrincipal({
    grantee,
    actions: QUERY_GLUE_ACTIONS,
    resourceArns: [glueArn('catalog'), glueArn('database', databaseName), glueArn('table', `${databaseName}/${tableName}`)],
  }).combine(iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:GetObject'],
    resourceArns: [bucket.arnForObjects(`${prefix}*`)],
  })).combine(iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:ListBucket'],
    resourceArns: [bucket.bucketArn],
    conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
  })).combine(iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:GetBucketLocation'],
    resourceArns: [bucket.bucketArn],
  }));
}
