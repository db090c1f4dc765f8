export * from './mode';
export * from './policy';
export * from './tls-rpt';
export * from './policy-domain';
export * from './mta-sts';
export * from './mta-sts-domains';
export * from './tls-rpt-collector';
