// The page's stylesheet, served from memory at /ui/static/ui.css (no build step, no CDN). Colours meet
// WCAG AA contrast on white; focus is always visible; one column on a phone.
export const CSS = `
*{box-sizing:border-box}
html{font-size:17px}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fff;line-height:1.45}
a{color:#0b4f9c}
a:focus,button:focus,input:focus,select:focus,textarea:focus,summary:focus{outline:3px solid #f5a623;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:2}
.top{display:flex;flex-wrap:wrap;gap:12px;align-items:center;padding:10px 16px;background:#12263f;color:#fff}
.top a{color:#fff}.brand{font-weight:700;font-size:1.1rem;text-decoration:none}
.top nav a{margin-right:12px}
.who{margin-left:auto;display:flex;gap:8px;align-items:center}
main{max-width:980px;margin:0 auto;padding:16px}
h1{font-size:1.4rem;margin:.4em 0}h2{font-size:1.15rem;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #ccc;vertical-align:top}
th{font-weight:600;background:#f2f4f7}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:.9rem;border:1px solid}
.s-halted,.s-rolled_back{background:#fde7ea;color:#8a0016;border-color:#8a0016}
.s-watching{background:#e6f0fb;color:#0b3d78;border-color:#0b3d78}
.s-awaiting_approval,.s-pending_approval{background:#fff4d6;color:#6b4a00;border-color:#6b4a00}
.s-passed{background:#e5f5ea;color:#145c2c;border-color:#145c2c}
.s-ended{background:#eee;color:#333;border-color:#333}
.sentence{font-size:1.05rem;border-left:4px solid #0b4f9c;padding:6px 10px;background:#f5f8fc}
.blind{border-left:4px solid #8a0016;background:#fde7ea;padding:6px 10px}
.flash{border:2px solid #0b4f9c;padding:8px 10px;background:#eef4fb}
.error{border-color:#8a0016;background:#fde7ea}
.chart{width:100%;height:auto;max-width:640px;border:1px solid #ddd;background:#fff}
.legend{font-size:.9rem}.key{display:inline-block;width:18px;height:4px;vertical-align:middle;margin:0 4px 0 10px}
.key.obs{background:#0b4f9c}.key.exp{background:#4a4a4a}.key.band{background:#c9d6ea;height:10px}
dl.nums{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dl.nums dt{font-weight:600}dl.nums dd{margin:0}
.actions form{border:1px solid #ccc;padding:10px;margin:8px 0;border-radius:6px}
label{display:block;font-weight:600;margin-bottom:4px}
input[type=text],input[type=password],textarea,select{font:inherit;padding:8px;border:1px solid #555;border-radius:4px;width:100%;max-width:480px}
button{font:inherit;padding:8px 16px;border-radius:4px;border:1px solid #0b3d78;background:#0b4f9c;color:#fff;cursor:pointer;min-height:44px}
button.danger{background:#8a0016;border-color:#5c000f}
.who button{min-height:32px;padding:4px 10px;background:#fff;color:#12263f}
.filters{display:flex;gap:8px;align-items:end;flex-wrap:wrap}
.filters button{min-height:40px}
ol.timeline{padding-left:1.2em}ol.timeline li{margin:4px 0}
.muted{color:#555}
@media (max-width:640px){
  html{font-size:16px}
  table.deploys thead{display:none}
  table.deploys tr{display:block;border-bottom:2px solid #ccc;padding:6px 0}
  table.deploys td{display:block;border:0;padding:2px 4px}
  table.deploys td::before{content:attr(data-label) ": ";font-weight:600}
}
`;
