import { type Command, Option } from 'commander';
import { exitWith as exit } from './lifecycle.ts';

/**
 * How a Citadel (inside `controlplane` or alone as `citadel`) authenticates callers, from its
 * flags, checked once here:
 * - `bootstrap`: opaque tokens hashed in `--tokens-file` (sha256 → identity);
 * - `jwt`: short-lived tokens bound to one workload (src/citadel/bound-token.ts), signed with the
 *   cluster's key whose public half is `--token-key`, issued by `--token-issuer` for
 *   `--token-audience` (what `meshfed up` uses);
 * - `kube`: projected service-account tokens checked by TokenReview for `--token-audience`.
 */
export type CitadelAuthChoice =
  | { auth: 'bootstrap'; tokensFile: string }
  | { auth: 'jwt'; tokenKeyFile: string; issuer: string; audience: string }
  | { auth: 'kube'; audience: string };

export function addCitadelAuthOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--auth <mode>',
        'how Citadel authenticates callers: bootstrap tokens from --tokens-file, jwt (short-lived tokens bound to one workload, signed with the key of --token-key), or kube (TokenReview of projected service-account tokens)',
      )
        .choices(['bootstrap', 'jwt', 'kube'])
        .default('bootstrap'),
    )
    .option('--tokens-file <file>', 'bootstrap tokens (sha256 → identity); required with --auth bootstrap')
    .option('--token-key <file>', "with --auth jwt: the cluster's token signing public key (PEM)")
    .option('--token-issuer <iss>', 'with --auth jwt: the issuer tokens must name (meshfed://<cluster>)')
    .option('--token-audience <aud>', 'with --auth jwt or kube: the audience tokens must be issued for (default meshfed-ca)');
}

/** `who` prefixes the messages (`meshfed citadel: …`); empty: none. */
export function citadelAuthChoice(o: Record<string, string | undefined>, who = ''): CitadelAuthChoice {
  const mode = o['auth'] ?? 'bootstrap';
  const exitWith = (message: string): never => exit(who === '' ? message : `${who}: ${message}`);
  const used = (flag: string, key: string, modes: string[]): void => {
    if (o[key] !== undefined && !modes.includes(mode)) exitWith(`${flag} is used only with --auth ${modes.join(' or ')}`);
  };
  used('--tokens-file', 'tokensFile', ['bootstrap']);
  used('--token-key', 'tokenKey', ['jwt']);
  used('--token-issuer', 'tokenIssuer', ['jwt']);
  used('--token-audience', 'tokenAudience', ['jwt', 'kube']);
  const audience = o['tokenAudience'] ?? 'meshfed-ca';
  if (audience === '' || /\s/.test(audience)) exitWith(`invalid --token-audience ${JSON.stringify(audience)}: must be a non-empty audience without spaces`);
  if (mode === 'kube') return { auth: 'kube', audience };
  if (mode === 'jwt') {
    const tokenKeyFile = o['tokenKey'];
    const issuer = o['tokenIssuer'];
    if (tokenKeyFile === undefined || tokenKeyFile === '') return exitWith('--token-key is required with --auth jwt');
    if (issuer === undefined || issuer === '') return exitWith('--token-issuer is required with --auth jwt');
    return { auth: 'jwt', tokenKeyFile, issuer, audience };
  }
  const tokensFile = o['tokensFile'];
  if (tokensFile === undefined) return exitWith('--tokens-file is required with --auth bootstrap (the default)');
  return { auth: 'bootstrap', tokensFile };
}
