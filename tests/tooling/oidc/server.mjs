// A real OpenID Connect provider for the login tests: oidc-provider (OpenID certified), with its development
// login and consent pages (any password; the login is the account id). Started by tests/tooling/oidc.py.
// Environment: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS (space-separated). Prints "ready <issuer>" once listening.
import Provider from 'oidc-provider'

const port = Number(process.env.PORT)
const issuer = `http://127.0.0.1:${port}`

const configuration = {
  clients: [
    {
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: process.env.REDIRECT_URIS.split(' '),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  // Every login is an account: <login>@example.com, verified, with a name and an avatar.
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.com`,
          email_verified: true,
          name: `Test ${id}`,
          picture: `https://avatars.example.com/${id}.png`,
        }
      },
    }
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'picture'] },
  conformIdTokenClaims: false, // the ID token carries the requested claims too
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['estafette-tests-only'] },
}

const provider = new Provider(issuer, configuration)
provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`)
})
