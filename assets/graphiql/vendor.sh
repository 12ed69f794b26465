#!/usr/bin/env bash
# Refreshes vendor/ from the versions package-lock.json pins: the production builds of React,
# GraphiQL and graphql-ws that the server embeds and serves at /graphiql/, so that GraphiQL
# works on networks that cannot reach a CDN. Run after changing a version in package.json.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
mkdir -p vendor
cp node_modules/react/umd/react.production.min.js vendor/
cp node_modules/react-dom/umd/react-dom.production.min.js vendor/
cp node_modules/graphiql/graphiql.min.js node_modules/graphiql/graphiql.min.css vendor/
cp node_modules/graphql-ws/umd/graphql-ws.min.js vendor/
# Strip the source-map comments: the maps are not shipped.
sed -i -e 's|//# sourceMappingURL=.*$||' vendor/*.js
sed -i -e 's|/\*# sourceMappingURL=.*\*/||' vendor/*.css
{
  echo "Licences of the files in this folder, as their packages ship them."
  for p in react react-dom graphiql graphql-ws; do
    echo
    echo "== ${p} $(node -p "require('./node_modules/${p}/package.json').version")"
    cat "node_modules/${p}/LICENSE"*
  done
} > vendor/LICENSES.txt
rm -rf node_modules
ls -l vendor
