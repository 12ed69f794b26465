// Starts GraphiQL against the server that served this page: queries and mutations over HTTP
// at /graphql, subscriptions over WebSocket at /graphql/ws (graphql-transport-ws). A token
// entered in the Headers tab as {"Authorization": "Bearer <token>"} goes with every request,
// and with the WebSocket's connection_init when a subscription starts.
(function () {
  'use strict';
  var http = new URL('/graphql', window.location.href).toString();
  var ws = http.replace(/^http/, 'ws') + '/ws';

  // GraphiQL keeps the Headers tab in local storage; the WebSocket reads it as it connects.
  function headers() {
    try {
      var text = window.localStorage.getItem('graphiql:headers');
      var parsed = text ? JSON.parse(text) : {};
      return parsed && typeof parsed === 'object' ? parsed : {};
    } catch (e) {
      return {};
    }
  }

  var wsClient = graphqlWs.createClient({
    url: ws,
    lazy: true,
    connectionParams: function () {
      var h = headers();
      var token = h.Authorization || h.authorization;
      return token ? { Authorization: token } : {};
    },
  });

  var fetcher = GraphiQL.createFetcher({ url: http, wsClient: wsClient });

  // A query in the address (?query=...) opens in the editor, for links from documentation.
  var params = new URLSearchParams(window.location.search);
  var example =
    '# The London Vision partner API. Press the run button (or Ctrl-Enter) to send a query;\n' +
    '# the Docs button describes every type and field.\n' +
    '{\n' +
    '  priorities {\n' +
    '    nodes {\n' +
    '      number\n' +
    '      title\n' +
    '      commitments { statement }\n' +
    '    }\n' +
    '  }\n' +
    '}\n';

  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: example,
      query: params.get('query') || undefined,
      variables: params.get('variables') || undefined,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: true,
    })
  );
})();
