// What an event's person gets lives beside the promotion it describes.
export { asPersonSees } from '@hogport/conventions';
