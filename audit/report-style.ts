/** The report's inline stylesheet (no fonts or images to fetch). */
export const REPORT_CSS = `
:root { color-scheme: light; font: 14px/1.4 system-ui, sans-serif; color: #1d232a; background: #f6f7f9; }
body { margin: 0 auto; max-width: 1000px; padding: 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 24px 0 8px; border-bottom: 1px solid #d5d9df; }
h3 { font-size: 14px; margin: 12px 0 4px; } code { font: 12px ui-monospace, monospace; word-break: break-all; }
.meta, .note, figcaption { color: #5a636e; font-size: 12px; } .bad { color: #b3261e; font-weight: 600; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 6px 16px; margin: 0; }
.facts div { background: #fff; border: 1px solid #e1e4e8; border-radius: 4px; padding: 4px 8px; }
.facts dt { color: #5a636e; font-size: 11px; } .facts dd { margin: 0; font-weight: 600; }
figure { margin: 0; } svg.chart, svg.channel-timeline { width: 100%; height: auto; background: #fff; border: 1px solid #e1e4e8; border-radius: 4px; }
svg .grid { stroke: #eceef1; } svg .lane { stroke: #e6e8eb; } svg .tick, svg .mark-label { font-size: 11px; fill: #5a636e; }
svg#latency-histogram rect.bar { fill: #3f7cc4; } svg .mark { stroke: #b3261e; stroke-dasharray: 4 3; } svg .mark-label { fill: #b3261e; }
svg circle.event { fill: #3f7cc4; stroke: #fff; stroke-width: 1; }
svg circle.kind-created, svg circle.kind-set-up, svg circle.kind-outpoint-locked { fill: #2e9d57; }
svg circle.kind-holder-commitment-revoked, svg circle.kind-counterparty-secret-stored { fill: #8a5cc2; }
svg circle.kind-mutual-close-signed, svg circle.kind-forgotten, svg circle.kind-splice-signed, svg circle.kind-holder-commitment-signed { fill: #d08a19; }
svg circle.kind-sweep-signed, svg circle.kind-wallet-spend-signed { fill: #16899a; }
svg circle.kind-policy-refused, svg circle.kind-refused, svg circle.kind-error, svg circle.kind-policy-warned { fill: #b3261e; }
.legend { display: flex; flex-wrap: wrap; gap: 2px 14px; padding: 0; list-style: none; font-size: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 12px; }
th, td { border: 1px solid #e1e4e8; padding: 3px 6px; text-align: left; vertical-align: top; } th { background: #eef0f3; }
#live { position: sticky; top: 0; z-index: 1; background: #f6f7f9; padding: 0 0 6px; }
#live.stale .banner::after { content: ' (the page lost the broker: these facts are stale)'; }
.banner { border-radius: 4px; padding: 10px 12px; margin-bottom: 8px; color: #fff; font-size: 15px; }
.banner code { display: block; margin-top: 6px; padding: 6px 8px; background: rgba(0, 0, 0, .25); border-radius: 3px; font-size: 13px; color: #fff; user-select: all; }
.banner code:empty { display: none; }
.banner[data-state="ok"] { background: #2e7d32; } .banner[data-state="warn"] { background: #e08a00; } .banner[data-state="bad"] { background: #c62828; }
.live-facts .wide { grid-column: span 2; } .live-facts dd { word-break: break-all; }
details { margin-top: 6px; } details > summary { cursor: pointer; color: #5a636e; font-size: 12px; } details .facts { margin-top: 4px; }
`;
