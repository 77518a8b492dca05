/** Where `meshfed up` and the commands that read its state look by default (relative to the working folder). */
export const DEFAULT_STATE_DIR = '.meshfed';
