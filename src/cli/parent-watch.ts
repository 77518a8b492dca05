/**
 * A child started by the local runner exits when the runner is gone (MESHFED_PARENT_PID set by the
 * supervisor), so a crashed runner or test never leaves components behind.
 */
export function watchParent(): void {
  const raw = process.env['MESHFED_PARENT_PID'];
  const parent = raw ? Number(raw) : Number.NaN;
  if (!Number.isInteger(parent) || parent <= 1) return;
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch (e: unknown) {
      // EPERM: the parent is alive but another user's (a sidecar run as uid 1337 by a root
      // runner or test); only ESRCH means it is gone.
      if (typeof e === 'object' && e !== null && 'code' in e && e.code === 'EPERM') return;
      process.exit(0);
    }
  }, 1000).unref();
}
