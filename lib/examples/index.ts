/** The scenario library behind `deep-agent examples`. */
export * from './scenarios.js';
