/** An error answer in Binance's shape: HTTP status plus `{ code, msg }`. */
export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: number,
    msg: string,
  ) {
    super(msg);
  }
}

export const badRequest = (code: number, msg: string): ApiError => new ApiError(400, code, msg);

export const mandatory = (name: string): ApiError =>
  badRequest(-1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);

export const noSuchOrder = (): ApiError => badRequest(-2013, 'Order does not exist.');
export const unknownOrder = (): ApiError => badRequest(-2011, 'Unknown order sent.');
