// The one name @actions/http-client imports. If a future version of @actions/core ever reaches
// for it, the action fails loudly here instead of making requests without the runner's proxy.
export class ProxyAgent {
  constructor() {
    throw new Error('undici is not bundled with this action: @actions/http-client asked for its ProxyAgent')
  }
}
