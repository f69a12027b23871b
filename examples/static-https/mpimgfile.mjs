// Acme Static: the tasks that build this image over SSH (`make build HOST=<ip>` runs `build`).
//
// The standard tasks come from generator-mpimg and read mpimg.json when they run, so editing
// mpimg.json needs no change here and `npm update generator-mpimg` brings their fixes. `mpimg tasks`
// lists them all: wait-boot, upgrade, repositories, packages, users, files, owners, scripts, install,
// services, firewall, cleanup, check, status, and the pipelines build and testbuild, which run their
// steps by name.
export * from 'generator-mpimg/tasks/standard';
// import { task } from 'generator-mpimg/tasks';
// import { build as standardBuild, testbuild as standardTestbuild } from 'generator-mpimg/tasks/standard';

// A task of your own (`mpimg run smoke --host <ip>`). A task is an async function of `c`, the
// connection to the droplet: c.run('cmd'), c.sudo('cmd'), c.put(local, remote), c.get(remote, local).
// export const smoke = task('smoke', 'check that the app answers', async (c) => {
//   await c.run('curl -fsS http://localhost/ >/dev/null');
// });

// Put it into the build, right after the packages (both pipelines, if you try builds with testbuild):
// export const build = standardBuild.with({ after: 'packages', run: smoke });
// export const testbuild = standardTestbuild.with({ after: 'packages', run: smoke });

// Or replace one standard step everywhere it runs, by exporting a task of the same name:
// export const scripts = task('scripts', 'my own build steps', async (c) => {
//   await c.sudo('make -C /opt/src install');
// });
