// Passkeys (WebAuthn) on the login, second-step, enrollment and security pages. The server sends
// the ceremony's options; @simplewebauthn/browser (served from /static/vendor/) talks to the
// authenticator; the answer goes back in the form's hidden `credential` field, as a normal form
// post, so every error is a page. Without WebAuthn support the passkey forms stay hidden.
(() => {
  const lib = window.SimpleWebAuthnBrowser;
  if (!lib || !lib.browserSupportsWebAuthn()) return;
  for (const form of document.querySelectorAll('[data-passkey-form]')) form.hidden = false;

  document.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-passkey]');
    if (!button) return;
    const form = button.closest('form');
    const error = form.querySelector('[data-passkey-error]');
    const show = (message) => {
      error.textContent = message;
      error.hidden = false;
    };
    error.hidden = true;
    button.disabled = true;
    try {
      const body = new URLSearchParams({ csrf_token: form.elements.csrf_token.value });
      const res = await fetch(button.getAttribute('data-options'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body,
        credentials: 'same-origin',
      });
      if (!res.ok) {
        show('This page has expired. Reload it and try again.');
        return;
      }
      const optionsJSON = await res.json();
      const answer =
        button.getAttribute('data-passkey') === 'register'
          ? await lib.startRegistration({ optionsJSON })
          : await lib.startAuthentication({ optionsJSON });
      form.elements.credential.value = JSON.stringify(answer);
      form.submit();
    } catch (err) {
      show(err && err.name === 'NotAllowedError' ? 'The passkey request was cancelled or timed out.' : 'The passkey could not be used here.');
    } finally {
      button.disabled = false;
    }
  });
})();
