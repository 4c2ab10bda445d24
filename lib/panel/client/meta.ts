/**
 * The shape of `<mount>/panel/meta.json`: the resource table as the panel sees it. Shared by the
 * server (which builds it from the descriptors) and the browser code (which draws it); types only.
 */
export type JsonSchema = { readonly [keyword: string]: unknown };

export type PanelRow =
  | {
      readonly kind: 'scalar';
      readonly path: string;
      readonly field: string;
      readonly description: string;
      readonly schema: JsonSchema;
      readonly resetValue?: string | number | boolean;
    }
  | {
      readonly kind: 'string-array';
      readonly path: string;
      readonly field: string;
      readonly description: string;
    }
  | {
      readonly kind: 'object-array';
      readonly path: string;
      readonly field: string;
      readonly description: string;
      readonly itemSchema: JsonSchema;
      readonly matchField: string;
      readonly matchBodyField: string;
      readonly matchQuery: string;
      /**
       * What GET shows for each absent optional property (its `default`, else the zero value
       * of its type), as the server resolved it: the panel leaves a field out when it holds this.
       */
      readonly defaults: { readonly [name: string]: unknown };
    }
  | {
      readonly kind: 'map';
      readonly path: string;
      readonly field: string;
      readonly description: string;
      /** PATCH body field and DELETE query parameter naming an entry. */
      readonly nameField: string;
      /** PATCH body field of the entry's list. */
      readonly listField: string;
      readonly itemSchema: JsonSchema;
    }
  | {
      readonly kind: 'files';
      readonly path: string;
      readonly field: 'files';
      readonly description: string;
    };

export interface PanelMeta {
  readonly version: 1;
  readonly rows: readonly PanelRow[];
  /** The router keeps a history of the config (`GET /config/history`): the panel shows its screen. */
  readonly history?: true;
}
