// The CLI places downloads with the library's helper (one rule for not harming a user's folder).
export { placeInto } from '../place.js';
