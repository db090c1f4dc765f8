export * from '../core/hostname';
