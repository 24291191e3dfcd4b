// Builds dist/uploader.js and dist/uploader.css from src/ (run through
// scripts/build-uploader.sh). The hash worker is bundled first and
// inlined into the page's bundle as text, so the site serves one JS file.
import * as esbuild from 'esbuild'

const common = {
  bundle: true,
  minify: true,
  target: ['es2020'],
  legalComments: 'none',
  logLevel: 'warning',
}

const worker = await esbuild.build({
  ...common,
  entryPoints: ['src/hash-worker.js'],
  format: 'iife',
  write: false,
})

const inlineWorker = {
  name: 'inline-worker',
  setup (build) {
    build.onResolve({ filter: /^dcor:hash-worker$/ }, (args) => ({
      path: args.path, namespace: 'dcor-worker',
    }))
    build.onLoad({ filter: /.*/, namespace: 'dcor-worker' }, () => ({
      contents: worker.outputFiles[0].text, loader: 'text',
    }))
  },
}

await esbuild.build({
  ...common,
  entryPoints: { uploader: 'src/uploader.js' },
  format: 'iife',
  outdir: 'dist',
  plugins: [inlineWorker],
})
