// Swagger UI for /docs, from the site's own static files (no CDN: clients may be offline).
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // A token typed into "Authorize" lives as long as the page: kept in localStorage, any script
    // of this origin, or the next person at this browser, could read it.
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
