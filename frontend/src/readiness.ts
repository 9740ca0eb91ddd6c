// The page-level readiness marker screenshots wait on: data-render-complete on <body>.
export function markRendering(): void {
  document.body.dataset.renderComplete = "false";
}

export function markRendered(): void {
  document.body.dataset.renderComplete = "true";
}
