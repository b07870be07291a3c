export { PostHogQuery, hogqlString, hogqlProperty, type QueryOptions, type QueryResult } from './query.js';
