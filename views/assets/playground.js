// Starts GraphiQL against this server's /graphql; the session cookie authenticates.
window.addEventListener('DOMContentLoaded', () => {
  const container = document.getElementById('graphiql');
  const fetcher = window.GraphiQL.createFetcher({ url: '/graphql' });
  const defaultQuery = `# Welcome to the Latchkey API.
# Press the run button (or Ctrl-Enter) to see who you are and your applications.
query Me {
  viewer { id username email isAdmin }
  applications(first: 10) {
    totalCount
    edges { node { id clientId name clientType grantTypes redirectUris } }
  }
}
`;
  window.ReactDOM.createRoot(container).render(
    window.React.createElement(window.GraphiQL, { fetcher, defaultQuery, shouldPersistHeaders: false }),
  );
});
