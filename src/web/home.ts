import { Router } from 'express';
import { csrfToken } from './csrf.js';
import { requireLogin } from './session.js';

/** The home page: who you are and where to go. */
export function homeRouter(): Router {
  const router = Router();
  router.get('/', requireLogin, (req, res) => {
    res.render('home', {
      title: 'Home',
      user: req.browserSession!.user,
      csrfToken: csrfToken(req, res),
    });
  });
  return router;
}
