export { ga4Source } from './source.js';
export { mapGa4Row, GA4_NAMESPACE } from './ga4.js';
