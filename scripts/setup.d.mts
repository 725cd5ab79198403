export declare const REQUIRED_NODE_MAJOR: number;
export declare const PINNED_NODE: { version: string; packages: Record<string, string> };
