/**
 * The Flow action's names, with no imports, so the admin UI (which runs in the browser) can use them without
 * bundling the action's parser and its phone-number library.
 */

/** The action's handle in its extension file, which Flow sends back as `handle`. */
export const FLOW_ACTION_HANDLE = "send-attentive-event";
/** Where Flow posts the action's runs (the extension's runtime_url is this path on the app's URL). */
export const FLOW_ACTION_PATH = "/flow/actions/send-attentive-event";
/** The topic a Flow action run is recorded under, beside the Shopify webhook topics. */
export const FLOW_ACTION_TOPIC = "flow/action";
/** The one "mapping" a Flow action delivery has: the merchant wrote it in Flow, not in the app. */
export const FLOW_ACTION_MAPPING_ID = "flow-action";
