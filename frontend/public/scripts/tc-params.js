window.TC_PARAMS = {
  "API_BASEROUTE": "/_api",
  "MIXPANEL_ANALYTICS_ID": ""
};
